/*
 * LD_PRELOAD shim for poppler 22.12's pdfsig (Debian 12).
 *
 * poppler 22.12 decides a certificate's status by reading PORT_GetError() after
 * CERT_PKIXVerifyCert() without looking at its return value, so a stale NSS error from an
 * earlier, unrelated call turns a successful verification into "Unknown issue with
 * Certificate or corrupted data". This wrapper clears the error before the call and after a
 * successful one; a failed verification keeps NSS's own error code, which is also printed to
 * stderr ("qianshu-shim: PKIX error N") so tests can tell which check failed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

typedef int SECStatus;
typedef SECStatus (*verify_fn)(void *, long long, void *, void *, void *);
typedef void (*set_error_fn)(int);
typedef int (*get_error_fn)(void);

SECStatus CERT_PKIXVerifyCert(void *cert, long long usages, void *in, void *out, void *wincx)
{
    static verify_fn real;
    static set_error_fn set_error;
    static get_error_fn get_error;
    if (!real) {
        real = (verify_fn)dlsym(RTLD_NEXT, "CERT_PKIXVerifyCert");
        set_error = (set_error_fn)dlsym(RTLD_DEFAULT, "PORT_SetError");
        get_error = (get_error_fn)dlsym(RTLD_DEFAULT, "PORT_GetError");
    }
    set_error(0);
    SECStatus rv = real(cert, usages, in, out, wincx);
    if (rv == 0)
        set_error(0);
    else
        fprintf(stderr, "qianshu-shim: PKIX error %d\n", get_error());
    return rv;
}
