/* codec: module placeholder so the library target exists; removed when the module lands. */
int ma_codec_placeholder(void);
int ma_codec_placeholder(void) { return 0; }
