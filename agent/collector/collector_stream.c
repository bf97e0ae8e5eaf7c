/* collector_stream.c - our libetpan mailstream_low driver: plain TCP, then OpenSSL once
 * collector_stream_start_tls ran (see collector_stream.h for the limits it enforces).
 *
 * The socket stays blocking with SO_RCVTIMEO/SO_SNDTIMEO, so OpenSSL's blocking reads and writes are
 * bounded by the same timeout as plain ones. The driver never logs what passes through it
 * (passwords and tokens go over it).
 */
#include "collector_stream.h"

#include "agent/lib/error.h"
#include "agent/lib/tls_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  int fd;
  SSL *ssl;           /* NULL until TLS started */
  gsize budget;       /* 0: unlimited */
  gsize spent;        /* bytes read since the budget was set */
  gboolean over;      /* a read failed for the budget */
  guint64 total;
} StreamData;

static StreamData *data_of(mailstream *s)
{
  g_assert(s && s->low && s->low->data);
  return s->low->data;
}

static ssize_t drv_read(mailstream_low *low, void *buf, size_t size)
{
  StreamData *d = low->data;
  if (d->budget) {
    if (d->spent >= d->budget) {
      d->over = TRUE;
      return -1;
    }
    size = MIN(size, d->budget - d->spent);
  }
  ssize_t n;
  if (d->ssl) {
    ERR_clear_error();
    int r = SSL_read(d->ssl, buf, (int)MIN(size, (size_t)G_MAXINT));
    n = r > 0 ? r : -1; /* a close_notify, an alert or the timeout all end the session */
  } else {
    do n = recv(d->fd, buf, size, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0) n = -1; /* libetpan takes 0 as "try again" in places; EOF is an error here */
  }
  if (n > 0) {
    d->spent += (gsize)n;
    d->total += (guint64)n;
  }
  return n;
}

static ssize_t drv_write(mailstream_low *low, const void *buf, size_t size)
{
  StreamData *d = low->data;
  if (d->ssl) {
    ERR_clear_error();
    int r = SSL_write(d->ssl, buf, (int)MIN(size, (size_t)G_MAXINT));
    return r > 0 ? r : -1;
  }
  ssize_t n;
  do n = send(d->fd, buf, size, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

static int drv_close(mailstream_low *low)
{
  StreamData *d = low->data;
  if (d->ssl) {
    SSL_shutdown(d->ssl); /* one-way: we do not wait for the server's close_notify */
    SSL_free(d->ssl);
    d->ssl = NULL;
  }
  if (d->fd >= 0) close(d->fd);
  d->fd = -1;
  return 0;
}

static int drv_get_fd(mailstream_low *low)
{
  return ((StreamData *)low->data)->fd;
}

static void drv_free(mailstream_low *low)
{
  StreamData *d = low->data;
  if (d) {
    drv_close(low);
    g_free(d);
  }
  free(low); /* allocated by mailstream_low_new with malloc */
}

static struct mailstream_cancel *drv_get_cancel(mailstream_low *low)
{
  return NULL;
}

static mailstream_low_driver collector_driver = {
  .mailstream_read = drv_read,
  .mailstream_write = drv_write,
  .mailstream_close = drv_close,
  .mailstream_get_fd = drv_get_fd,
  .mailstream_free = drv_free,
  .mailstream_cancel = NULL,
  .mailstream_get_cancel = drv_get_cancel,
  .mailstream_get_certificate_chain = NULL,
  .mailstream_setup_idle = NULL,
  .mailstream_unsetup_idle = NULL,
  .mailstream_interrupt_idle = NULL,
};

/* Non-blocking connect bounded by timeout_ms. 0, or -1 with errno. */
static int connect_timed(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -1;
  int rc = connect(fd, sa, len);
  if (rc < 0 && errno == EINPROGRESS) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    do rc = poll(&p, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc == 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    if (rc < 0) return -1;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) return -1;
    if (soerr) {
      errno = soerr;
      return -1;
    }
    rc = 0;
  }
  if (rc < 0) return -1;
  return fcntl(fd, F_SETFL, flags);
}

int collector_stream_connect(const char *host, int port, int timeout_ms, mailstream **out, GError **error)
{
  *out = NULL;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  char portbuf[16];
  g_snprintf(portbuf, sizeof portbuf, "%d", port);
  int gai = getaddrinfo(host, portbuf, &hints, &res);
  if (gai != 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "dns: %s: %s", host, gai_strerror(gai));
    return -1;
  }
  int fd = -1, last_errno = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    if (connect_timed(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms) == 0) break;
    last_errno = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "connect: %s port %d: %s", host, port, g_strerror(last_errno));
    return -1;
  }
  struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  StreamData *d = g_new0(StreamData, 1);
  d->fd = fd;
  mailstream_low *low = mailstream_low_new(d, &collector_driver);
  mailstream *s = low ? mailstream_new(low, 64 * 1024) : NULL;
  if (!s) {
    if (low) mailstream_low_free(low);
    else {
      close(fd);
      g_free(d);
    }
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "connect: out of memory");
    return -1;
  }
  *out = s;
  return 0;
}

int collector_stream_start_tls(mailstream *s, SSL_CTX *ctx, const char *host, gboolean verify, GError **error)
{
  StreamData *d = data_of(s);
  g_assert(d->ssl == NULL);
  /* Anything the server sent after its go-ahead and before our handshake would be read as if it
   * came over TLS (CVE-2011-0411 class): refuse the connection instead. */
  char peek;
  ssize_t pending = recv(d->fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT);
  if (s->read_buffer_len > 0 || pending > 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "tls: the server sent data after its STARTTLS go-ahead (response injection); refused");
    return -1;
  }
  SSL *ssl = ma_tls_verifying_ssl_new(ctx, host, verify);
  if (!ssl || SSL_set_fd(ssl, d->fd) != 1) {
    if (ssl) SSL_free(ssl);
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "tls: cannot create a session");
    return -1;
  }
  ERR_clear_error();
  if (SSL_connect(ssl) != 1) {
    long vr = SSL_get_verify_result(ssl);
    if (verify && vr != X509_V_OK) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "tls: certificate of %s refused: %s", host,
                  X509_verify_cert_error_string(vr));
    } else {
      char buf[256];
      unsigned long e = ERR_get_error();
      if (e)
        ERR_error_string_n(e, buf, sizeof buf);
      else
        g_strlcpy(buf, errno ? g_strerror(errno) : "connection closed", sizeof buf);
      g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "tls: handshake with %s failed: %s", host, buf);
    }
    ERR_clear_error();
    SSL_free(ssl);
    return -1;
  }
  d->ssl = ssl;
  return 0;
}

gboolean collector_stream_is_tls(mailstream *s)
{
  return data_of(s)->ssl != NULL;
}

int collector_stream_wait_readable(mailstream *s, int timeout_ms)
{
  StreamData *d = data_of(s);
  if (s->read_buffer_len > 0) return 1;
  if (d->ssl && SSL_pending(d->ssl) > 0) return 1;
  struct pollfd p = {.fd = d->fd, .events = POLLIN};
  int rc;
  do rc = poll(&p, 1, timeout_ms);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return -1;
  return rc > 0 ? 1 : 0;
}

void collector_stream_set_budget(mailstream *s, gsize max_bytes)
{
  StreamData *d = data_of(s);
  d->budget = max_bytes;
  d->spent = 0;
  d->over = FALSE;
}

gboolean collector_stream_over_budget(mailstream *s)
{
  return data_of(s)->over;
}

guint64 collector_stream_bytes_read(mailstream *s)
{
  return data_of(s)->total;
}
