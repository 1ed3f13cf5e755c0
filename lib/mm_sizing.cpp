#include "mm_sizing.h"

#include "capframe/abi.h"

namespace capframe {

uint64_t mm_dir_entries(uint64_t frames) {
    uint64_t entries =
        (frames * kMmDirSlotsPerFrame + abi::kCapSlotsPerPage - 1) / abi::kCapSlotsPerPage;
    if (entries < kMmDirMinEntries) entries = kMmDirMinEntries;
    constexpr uint64_t kPerPage = kPageSize / sizeof(uint64_t);
    return (entries + kPerPage - 1) / kPerPage * kPerPage;
}

MmSizing mm_sizing(const RangeSet& free_ram) {
    MmSizing s;
    s.free_frames = free_ram.total_bytes() / kPageSize;
    s.dir_entries = mm_dir_entries(s.free_frames);
    s.dir_bytes = s.dir_entries * sizeof(uint64_t);
    s.max_slots = s.dir_entries * (abi::kCapSlotsPerPage - 1);
    (void)align_up(s.dir_entries * kMmLeafBookBytes + (s.dir_entries + 63) / 64 * 8, kPageSize,
                   s.slot_book_bytes);
    if (free_ram.count() == 0) return s;
    s.window_base = free_ram[0].base.value();
    s.window_frames = (free_ram[free_ram.count() - 1].end() - s.window_base) / kPageSize;
    (void)align_up(s.window_frames * abi::kMetaBytesPerFrame + abi::kMetaSlackBytes, kPageSize,
                   s.meta_bytes);
    (void)align_up(s.window_frames * abi::kMetaZeroedBytesPerFrame + abi::kMetaSlackBytes,
                   kPageSize, s.meta_zeroed_bytes);
    return s;
}

} // namespace capframe
