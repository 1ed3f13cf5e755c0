#include "format.h"

#include <cstdint>

namespace capframe {
namespace {

struct Out {
    Sink sink;
    size_t count = 0;
    void put(const char* s, size_t n) {
        if (n) sink.write(sink.ctx, s, n);
        count += n;
    }
    void pad(char c, int n) {
        for (; n > 0; --n)
            put(&c, 1);
    }
};

size_t cstrlen(const char* s) {
    size_t n = 0;
    while (s[n])
        ++n;
    return n;
}

// Emits one field with width/flags; body is already rendered.
void field(Out& out, const char* body, size_t len, int width, bool left, bool zero, bool neg,
           const char* prefix) {
    size_t plen = cstrlen(prefix);
    int extra = width - static_cast<int>(len + plen + (neg ? 1 : 0));
    if (!left && !zero) out.pad(' ', extra);
    if (neg) out.put("-", 1);
    out.put(prefix, plen);
    if (!left && zero) out.pad('0', extra);
    out.put(body, len);
    if (left) out.pad(' ', extra);
}

size_t render_unsigned(char* buf, uint64_t v, unsigned base, bool upper) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    for (size_t i = 0; i < n; ++i)
        buf[i] = tmp[n - 1 - i];
    return n;
}

} // namespace

size_t vformat(Sink sink, const char* fmt, va_list ap) {
    Out out{sink};
    const char* p = fmt;
    while (*p) {
        if (*p != '%') {
            const char* start = p;
            while (*p && *p != '%')
                ++p;
            out.put(start, static_cast<size_t>(p - start));
            continue;
        }
        const char* spec_start = p++;
        bool left = false, zero = false;
        for (;; ++p) {
            if (*p == '-')
                left = true;
            else if (*p == '0')
                zero = true;
            else
                break;
        }
        int width = 0;
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        int longs = 0;
        bool size_t_mod = false;
        while (*p == 'l')
            ++longs, ++p;
        if (*p == 'z') size_t_mod = true, ++p;
        bool wide = longs > 0 || size_t_mod;
        char buf[24];
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v = wide ? va_arg(ap, long) : va_arg(ap, int);
            bool neg = v < 0;
            uint64_t mag = neg ? uint64_t(0) - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
            size_t n = render_unsigned(buf, mag, 10, false);
            field(out, buf, n, width, left, zero, neg, "");
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = wide ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
            size_t n = render_unsigned(buf, v, *p == 'u' ? 10 : 16, *p == 'X');
            field(out, buf, n, width, left, zero, false, "");
            break;
        }
        case 'p': {
            auto v = reinterpret_cast<uintptr_t>(va_arg(ap, void*));
            size_t n = render_unsigned(buf, v, 16, false);
            field(out, buf, n, 18, false, true, false, "0x"); // 0x + 16 digits
            break;
        }
        case 's': {
            const char* s = va_arg(ap, const char*);
            if (!s) s = "(null)";
            field(out, s, cstrlen(s), width, left, false, false, "");
            break;
        }
        case 'c': {
            char c = static_cast<char>(va_arg(ap, int));
            field(out, &c, 1, width, left, false, false, "");
            break;
        }
        case '%':
            out.put("%", 1);
            break;
        case '\0': // a lone '%' at the end: copy it through
            out.put(spec_start, static_cast<size_t>(p - spec_start));
            continue;
        default: // unknown conversion: copy it through literally
            out.put(spec_start, static_cast<size_t>(p - spec_start + 1));
            break;
        }
        ++p;
    }
    return out.count;
}

size_t format(Sink sink, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = vformat(sink, fmt, ap);
    va_end(ap);
    return n;
}

namespace {
struct Buffer {
    char* buf;
    size_t cap;
    size_t used;
};
void buffer_write(void* ctx, const char* s, size_t n) {
    auto* b = static_cast<Buffer*>(ctx);
    for (size_t i = 0; i < n; ++i) {
        if (b->used + 1 < b->cap) b->buf[b->used++] = s[i];
    }
}
} // namespace

size_t snformat(char* buf, size_t n, const char* fmt, ...) {
    Buffer b{buf, n, 0};
    va_list ap;
    va_start(ap, fmt);
    size_t len = vformat(Sink{buffer_write, &b}, fmt, ap);
    va_end(ap);
    if (n) buf[b.used] = '\0';
    return len;
}

} // namespace capframe
