#include "sbi.h"

#include "capframe/ecall.h"

namespace capframe::sbi {

Ret call(uint64_t ext, uint64_t fid, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
    abi::EcallRegs r{a0, a1, a2, a3};
    int64_t error = abi::ecall(ext, fid, r);
    return Ret{error, static_cast<int64_t>(r.a1)};
}

bool probe(uint64_t ext) {
    Ret r = call(kExtBase, 3, ext);
    return r.error == 0 && r.value != 0;
}

int console_getchar() {
    int64_t c = call(kLegacyGetchar, 0).error; // the legacy calls return in a0
    return c < 0 ? -1 : static_cast<int>(c & 0xff);
}

void console_putchar(char c) {
    call(kLegacyPutchar, 0, static_cast<uint8_t>(c));
}

void set_timer(uint64_t stime_value) {
    static int time_ext = -1; // probed once: 1 = TIME extension, 0 = legacy call
    if (time_ext < 0) time_ext = probe(kExtTime) ? 1 : 0;
    if (time_ext)
        call(kExtTime, 0, stime_value);
    else
        call(kLegacySetTimer, 0, stime_value);
}

void system_reset(bool failure) {
    if (probe(kExtSrst)) call(kExtSrst, 0, 0, failure ? 1 : 0);
}

uint64_t spec_version() {
    return static_cast<uint64_t>(call(kExtBase, 0).value);
}
uint64_t impl_id() {
    return static_cast<uint64_t>(call(kExtBase, 1).value);
}

} // namespace capframe::sbi
