/* storage: module placeholder so the library target exists; removed when the module lands. */
int ma_storage_placeholder(void);
int ma_storage_placeholder(void) { return 0; }
