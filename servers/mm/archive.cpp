#include "archive.h"

namespace capframe::mm {

namespace {
CpioEntry g_files[kMaxPrograms];
size_t g_count = 0;
} // namespace

Result<void> archive_index(std::span<const uint8_t> archive) {
    g_count = 0;
    size_t offset = 0;
    CpioEntry e;
    for (;;) {
        auto r = cpio_next(archive, offset, e);
        if (!r.ok()) return r.error() == Error::NotFound ? Result<void>{} : r;
        if ((e.mode & kCpioTypeMask) != kCpioRegular) continue;
        if (e.name_len >= 2 && e.name[0] == '.' && e.name[1] == '/') e.name += 2, e.name_len -= 2;
        if (g_count == kMaxPrograms) return Error::TooMany;
        g_files[g_count++] = e;
    }
}

Result<const CpioEntry*> archive_find(const char* name) {
    if (!name || !name[0]) return Error::InvalidArgument;
    const CpioEntry* found = nullptr;
    for (size_t i = 0; i < g_count; ++i) {
        const CpioEntry& e = g_files[i];
        size_t k = 0;
        while (k < e.name_len && name[k] == e.name[k])
            ++k;
        if (k != e.name_len || name[k] != 0) continue;
        if (found) return Error::BadFormat; // two files of that name: neither is run
        found = &e;
    }
    if (!found) return Error::NotFound;
    return found;
}

const CpioEntry* archive_at(size_t index) {
    return index < g_count ? &g_files[index] : nullptr;
}

} // namespace capframe::mm
