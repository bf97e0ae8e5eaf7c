/* mime_address.c - address lists of outgoing headers (From/To/Cc/Bcc) read with GMime, for the
 * outbound path: each mailbox's display name and its addr-spec as written (domain lower-cased, no
 * IDN conversion: the envelope keeps the domain's own form). Groups are flattened one level deep,
 * as RFC 5322 allows no nesting. Read-only use of GMime (no serialisation).
 */
#include "mime.h"

#include <gmime/gmime.h>
#include <string.h>

#define MAX_ADDRESSES 1000

static void add_one(InternetAddress *a, GPtrArray *names, GPtrArray *addrs)
{
  if (!INTERNET_ADDRESS_IS_MAILBOX(a) || addrs->len >= MAX_ADDRESSES) return;
  const char *spec = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
  const char *at = spec ? strrchr(spec, '@') : NULL;
  if (!at || at == spec || !at[1]) return;
  g_autofree char *domain = g_ascii_strdown(at + 1, -1);
  g_ptr_array_add(addrs, g_strdup_printf("%.*s@%s", (int) (at - spec), spec, domain));
  const char *name = internet_address_get_name(a);
  if (names) g_ptr_array_add(names, g_strdup(name ? name : ""));
}

int mime_address_list_parse(const char *value, GPtrArray *names, GPtrArray *addrs)
{
  mime_global_init();
  InternetAddressList *list = internet_address_list_parse(NULL, value);
  if (!list) return 0;
  int n = internet_address_list_length(list);
  guint before = addrs->len;
  for (int i = 0; i < n; i++) {
    InternetAddress *a = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(a)) {
      InternetAddressList *members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a));
      for (int j = 0; members && j < internet_address_list_length(members); j++)
        add_one(internet_address_list_get_address(members, j), names, addrs);
    } else {
      add_one(a, names, addrs);
    }
  }
  g_object_unref(list);
  return (int) (addrs->len - before);
}
