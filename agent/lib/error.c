/* error.c - the MA_ERROR domain and the stable names of its codes. */
#include "error.h"

G_DEFINE_QUARK(mailagent-error-quark, ma_error)

const char *ma_error_code_name(int code)
{
  switch (code) {
  case MA_ERROR_INVALID: return "invalid";
  case MA_ERROR_NOT_FOUND: return "not_found";
  case MA_ERROR_CONFLICT: return "conflict";
  case MA_ERROR_LIMIT: return "limit";
  case MA_ERROR_TEMPFAIL: return "unavailable";
  default: return "internal";
  }
}
