/* mime: module placeholder so the library target exists; removed when the module lands. */
int ma_mime_placeholder(void);
int ma_mime_placeholder(void) { return 0; }
