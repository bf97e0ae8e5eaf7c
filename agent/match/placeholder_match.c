/* match: module placeholder so the library target exists; removed when the module lands. */
int ma_match_placeholder(void);
int ma_match_placeholder(void) { return 0; }
