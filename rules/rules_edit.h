/* rules_edit.h - the editing operations on an enterprise's ordered rule array, shared by
 * `mailagent rules ...` and the HTTP API so both validate and number the same way.
 *
 * Each operation takes the stored array as JSON text (storage_rules_get; NULL or "" means "[]"),
 * validates the result as a whole and returns the new array text for storage_rules_put (newly
 * allocated, canonical form, caller frees), or NULL with *error:
 *   MA_ERROR_INVALID   the rule JSON is malformed or breaks a rule (message names the place)
 *   MA_ERROR_LIMIT     an 11th rule (disabled rules count toward RULES_MAX)
 *   MA_ERROR_NOT_FOUND no rule with that id
 * Positions are 1-based (1 = evaluated first). Pure: no storage. To apply one atomically:
 *   storage_begin; storage_rules_get; rules_edit_x; storage_rules_put; storage_commit
 * (a concurrent writer then makes the commit fail with MA_ERROR_TEMPFAIL, never a lost update).
 */
#ifndef MA_RULES_EDIT_H
#define MA_RULES_EDIT_H

#include "rules.h"

/* Adds a new rule (JSON object text without "id"; one is assigned and returned in *new_id when
 * new_id is not NULL) at position (1..n+1; 0 = at the end). */
char *rules_edit_add(const char *current, const char *rule_json, guint position, char **new_id, GError **error);
/* Replaces the rule with this id by rule_json as a whole (absent keys take their defaults, e.g.
 * "enabled": true; its "id" may be absent or must equal rule_id); the position is kept. */
char *rules_edit_update(const char *current, const char *rule_id, const char *rule_json, GError **error);
/* Moves the rule to position (1..n). */
char *rules_edit_move(const char *current, const char *rule_id, guint position, GError **error);
char *rules_edit_set_enabled(const char *current, const char *rule_id, gboolean enabled, GError **error);
char *rules_edit_delete(const char *current, const char *rule_id, GError **error);
/* Replaces the whole array (PUT of all rules): rules without "id" get a new one; ids kept otherwise. */
char *rules_edit_replace(const char *current, const char *array_json, GError **error);

/* The stored array (NULL or "" = "[]") parsed for listing; NULL with *error when it is corrupt. */
RulesSet *rules_edit_load(const char *current, GError **error);

#endif
