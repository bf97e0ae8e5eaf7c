/* smtp: module placeholder so the library target exists; removed when the module lands. */
int ma_smtp_placeholder(void);
int ma_smtp_placeholder(void) { return 0; }
