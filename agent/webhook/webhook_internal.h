/* webhook_internal.h - the HTTP glue shared by the files of the webhook module (not for others). */
#ifndef MA_WEBHOOK_INTERNAL_H
#define MA_WEBHOOK_INTERNAL_H

#include "webhook.h"

#include <curl/curl.h>

typedef struct WebhookHttp WebhookHttp;

/* A client for one URL; attempts time out after timeout_seconds. Free with webhook_http_free. */
WebhookHttp *webhook_http_new(const char *url, int timeout_seconds);
void webhook_http_free(WebhookHttp *h);
/* POSTs body with the event headers. 0 on a 2xx answer; -1 otherwise with *error_text (newly
 * allocated: "HTTP status 500", or curl's transport error) and *status (0 when no answer). */
int webhook_http_post(WebhookHttp *h, const char *body, const char *event, const char *idempotency_key,
                      const char *signature, long *status, char **error_text);

#endif
