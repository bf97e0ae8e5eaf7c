/* version.h - what is running: mailagent's version and the version of every library it links, as
 * loaded at run time (not as compiled against). `mailagent version` prints it; /metrics exposes it
 * as mailagent_build_info. Each module reports the library only it uses (GMime, the storage
 * backend's client library, PCRE2, libcurl); the shared ones are read here.
 */
#ifndef MA_VERSION_H
#define MA_VERSION_H

#include <jansson.h>

/* "0.1.0": the project's version (CMakeLists.txt). */
const char *ma_version(void);
/* [{"name": "GMime", "version": "3.2.13"}, ...] in a fixed order. Caller frees (json_decref). */
json_t *ma_version_libraries(void);

#endif
