/* api: module placeholder so the library target exists; removed when the module lands. */
int ma_api_placeholder(void);
int ma_api_placeholder(void) { return 0; }
