/* webhook: module placeholder so the library target exists; removed when the module lands. */
int ma_webhook_placeholder(void);
int ma_webhook_placeholder(void) { return 0; }
