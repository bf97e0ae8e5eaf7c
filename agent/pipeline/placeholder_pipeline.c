/* pipeline: module placeholder so the library target exists; removed when the module lands. */
int ma_pipeline_placeholder(void);
int ma_pipeline_placeholder(void) { return 0; }
