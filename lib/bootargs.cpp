#include "bootargs.h"

namespace capframe {

bool find_bootarg(const char* args, const char* key, char* out, size_t out_len) {
    if (!args || !key || !*key || !out || out_len == 0) return false;
    for (const char* s = args; *s;) {
        while (*s == ' ')
            ++s;
        const char* k = key;
        const char* v = s;
        while (*k && *v == *k)
            ++k, ++v;
        if (!*k && *v == '=') {
            size_t n = 0;
            for (++v; v[n] && v[n] != ' ' && n + 1 < out_len; ++n)
                out[n] = v[n];
            out[n] = '\0';
            return true;
        }
        while (*s && *s != ' ')
            ++s;
    }
    return false;
}

} // namespace capframe
