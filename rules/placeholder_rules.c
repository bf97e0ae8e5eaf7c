/* rules: module placeholder so the library target exists; removed when the module lands. */
int ma_rules_placeholder(void);
int ma_rules_placeholder(void) { return 0; }
