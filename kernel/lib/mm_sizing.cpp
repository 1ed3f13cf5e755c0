#include "mm_sizing.h"

#include "capframe/abi.h"

namespace capframe {

uint8_t mm_table_order(uint64_t frames) {
    uint8_t order = kMmTableMinOrder;
    while (order < kMmTableMaxOrder && (abi::kCapSlotsPerPage << order) < 2 * frames + frames / 4)
        ++order;
    return order;
}

uint64_t mm_table_frames_served(uint64_t slots) {
    return slots * 4 / kMmSlotsPer4Frames;
}

MmSizing mm_sizing(const RangeSet& free_ram) {
    MmSizing s;
    s.free_frames = free_ram.total_bytes() / kPageSize;
    s.table_order = mm_table_order(s.free_frames);
    s.table_slots = abi::kCapSlotsPerPage << s.table_order;
    s.frames_served = mm_table_frames_served(s.table_slots);
    if (free_ram.count() == 0) return s;
    s.window_base = free_ram[0].base.value();
    s.window_frames = (free_ram[free_ram.count() - 1].end() - s.window_base) / kPageSize;
    (void)align_up(s.window_frames * abi::kMetaBytesPerFrame, kPageSize, s.meta_bytes);
    return s;
}

} // namespace capframe
