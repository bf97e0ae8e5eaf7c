/* service.h - telling the service manager (systemd, Type=notify) where the daemon is in its life:
 * ready, reloading, stopping, with a one-line status. Without NOTIFY_SOCKET in the environment
 * every call does nothing, so `serve` run by hand or by another supervisor is unaffected.
 */
#ifndef MA_SERVICE_H
#define MA_SERVICE_H

/* Every listener is bound and the workers run: "READY=1" with status (may be NULL). */
void ma_service_ready(const char *status);
/* A SIGHUP reload started: "RELOADING=1". Follow with ma_service_ready when it is done. */
void ma_service_reloading(void);
/* Shutdown started: "STOPPING=1". */
void ma_service_stopping(void);

#endif
