/* webhook_http.c - the libcurl glue of webhook delivery: POST one JSON body with the event's
 * headers and report the HTTP status or the transport error.
 *
 * One easy handle per sender, reused so connections are kept alive. Bounded: a total timeout per
 * attempt, no redirects, http/https only, the response body read and discarded (at most 64 KiB
 * looked at), no signals (threads). Never logs the body or the signature.
 */
#include "webhook_internal.h"

#include <string.h>

#define RESPONSE_MAX (64 * 1024)

struct WebhookHttp {
  CURL *curl;
  char *url;
  long timeout;
};

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  size_t *seen = userdata;
  size_t n = size * nmemb;
  *seen += n;
  /* Returning less than n aborts the transfer: enough of a runaway response. */
  return *seen > RESPONSE_MAX ? 0 : n;
}

WebhookHttp *webhook_http_new(const char *url, int timeout_seconds)
{
  WebhookHttp *h = g_new0(WebhookHttp, 1);
  h->curl = curl_easy_init();
  h->url = g_strdup(url);
  h->timeout = timeout_seconds > 0 ? timeout_seconds : 10;
  return h;
}

void webhook_http_free(WebhookHttp *h)
{
  if (!h) return;
  if (h->curl) curl_easy_cleanup(h->curl);
  g_free(h->url);
  g_free(h);
}

int webhook_http_post(WebhookHttp *h, const char *body, const char *event, const char *idempotency_key,
                      const char *signature, long *status, char **error_text)
{
  *status = 0;
  *error_text = NULL;
  if (!h->curl) {
    *error_text = g_strdup("curl_easy_init failed");
    return -1;
  }
  CURL *c = h->curl;
  curl_easy_reset(c);
  struct curl_slist *headers = NULL;
  g_autofree char *h_key = g_strdup_printf("Idempotency-Key: %s", idempotency_key);
  g_autofree char *h_event = g_strdup_printf("X-Mailagent-Event: %s", event);
  g_autofree char *h_sig = g_strdup_printf("X-Mailagent-Signature: %s", signature);
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, h_key);
  headers = curl_slist_append(headers, h_event);
  headers = curl_slist_append(headers, h_sig);
  headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
  size_t seen = 0;
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, h->url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, h->timeout);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, MIN(h->timeout, 10L));
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "mailagent-webhook/1");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &seen);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && *status >= 200)) {
    *error_text = g_strdup_printf("%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    *status = 0;
    return -1;
  }
  if (*status < 200 || *status > 299) {
    *error_text = g_strdup_printf("HTTP status %ld", *status);
    return -1;
  }
  return 0;
}
