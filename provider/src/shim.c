/*
 * core_vset_error (openssl/core_dispatch.h, OSSL_FUNC_CORE_VSET_ERROR) takes a va_list, which
 * stable Rust cannot build. This wrapper passes one string through "%s".
 */
#include <stdarg.h>
#include <stdint.h>

typedef void (*kms_vset_error_fn)(const void *handle, uint32_t reason, const char *fmt,
                                  va_list args);

static void kms_call_vset_error(kms_vset_error_fn f, const void *handle, uint32_t reason,
                                const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    f(handle, reason, fmt, args);
    va_end(args);
}

void kms_openssl_provider_set_error(kms_vset_error_fn f, const void *handle, uint32_t reason,
                                    const char *message)
{
    kms_call_vset_error(f, handle, reason, "%s", message);
}
