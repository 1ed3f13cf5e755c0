#include "buddy.h"

namespace capframe::mm {

Result<void> BuddyCore::init(uint64_t window_base_pa, std::span<FrameMeta> meta, bool zeroed) {
    if (!is_aligned(window_base_pa, kPageSize)) return Error::Misaligned;
    if (meta.size() > kMaxFrames) return Error::OutOfRange;
    const uint64_t bytes = meta.size() << kPageShift;
    if (window_base_pa + bytes < window_base_pa) return Error::OutOfRange;
    if (!zeroed)
        for (FrameMeta& m : meta)
            m = FrameMeta{};
    meta_ = meta;
    base_pfn_ = window_base_pa >> kPageShift;
    total_frames_ = free_frames_ = fail_countdown_ = 0;
    held_ = 0;
    root_count_ = 0;
    for (int k = 0; k <= kMaxOrder; ++k) {
        head_[k] = kNil;
        free_count_[k] = 0;
    }
    return {};
}

Result<void> BuddyCore::add_root(Block b) {
    if (b.order > kMaxOrder) return Error::InvalidArgument;
    const uint64_t pages = uint64_t{1} << b.order;
    if (!is_aligned(b.pa, pages << kPageShift)) return Error::Misaligned;
    const uint64_t pfn = b.pa >> kPageShift;
    if (pfn < base_pfn_ || pfn - base_pfn_ + pages > meta_.size()) return Error::OutOfRange;
    const auto i = static_cast<uint32_t>(pfn - base_pfn_);
    // The first root at or after i; only it and the one before can overlap.
    uint32_t at = 0, hi = root_count_;
    while (at < hi) {
        uint32_t mid = (at + hi) / 2;
        if (root_first(roots_[mid]) < i)
            at = mid + 1;
        else
            hi = mid;
    }
    if (at < root_count_ && root_first(roots_[at]) < i + pages) return Error::AlreadyMapped;
    if (at > 0 && root_end(roots_[at - 1]) > i) return Error::AlreadyMapped;
    if (root_count_ == kMaxRoots) return Error::TooMany;
    for (uint32_t k = root_count_; k > at; --k)
        roots_[k] = roots_[k - 1];
    roots_[at] = root(i, b.order);
    ++root_count_;

    meta_[i].slot = b.slot;
    meta_[i].order = b.order;
    push_free(i);
    total_frames_ += pages;
    return {};
}

uint32_t BuddyCore::free_blocks(uint8_t order) const {
    return order <= kMaxOrder ? free_count_[order] : 0;
}

int BuddyCore::largest_free_order() const {
    for (int k = kMaxOrder; k >= 0; --k)
        if (head_[k] != kNil) return k;
    return -1;
}

int BuddyCore::first_free_order(uint8_t order) const {
    for (int k = order; k <= kMaxOrder; ++k)
        if (head_[k] != kNil) return k;
    return -1;
}

uint32_t BuddyCore::take_free(uint8_t order) {
    const uint32_t i = head_[order];
    unlink(i);
    return i;
}

Result<uint32_t> BuddyCore::index_in_state(Block b, State state) const {
    const uint64_t pfn = b.pa >> kPageShift;
    if (!is_aligned(b.pa, kPageSize) || pfn < base_pfn_ || pfn - base_pfn_ >= meta_.size())
        return Error::InvalidArgument;
    const auto i = static_cast<uint32_t>(pfn - base_pfn_);
    const FrameMeta& m = meta_[i];
    if (m.state != state || m.order != b.order || m.slot != b.slot) return Error::InvalidArgument;
    return i;
}

bool BuddyCore::is_free(Block b) const {
    return index_in_state(b, kFree).ok();
}

Result<uint32_t> BuddyCore::block_index(Block b) const {
    if (auto i = index_in_state(b, kFree); i.ok()) return i;
    return index_in_state(b, kAllocated);
}

Result<void> BuddyCore::move_block(Block b, uint32_t new_slot) {
    const uint32_t i = TRY(block_index(b));
    meta_[i].slot = new_slot;
    uint32_t lo = 0, up = 0;
    for (uint8_t k = b.order; parent_halves(i, k, lo, up) && lo == i; ++k) {
        if (meta_[up].split_slot != b.slot) break;
        meta_[up].split_slot = new_slot;
    }
    return {};
}

bool BuddyCore::parent_halves(uint32_t i, uint8_t order, uint32_t& lower, uint32_t& upper) const {
    if (order >= kMaxOrder) return false;
    // The parent's upper half starts at the frame with bit `order` set; that
    // frame is the parent's midpoint and says whether the parent exists. A
    // root's would-be midpoint lies outside the window or inside a
    // neighbouring root, never split at that order, so roots find no parent.
    const uint64_t half = uint64_t{1} << order;
    const uint64_t up = ((base_pfn_ + i) | half) - base_pfn_;
    if (up >= meta_.size() || !meta_[up].split) return false;
    upper = static_cast<uint32_t>(up);
    lower = static_cast<uint32_t>(up - half);
    return true;
}

void BuddyCore::push_free(uint32_t i) {
    FrameMeta& m = meta_[i];
    const uint32_t k = m.order;
    m.state = kFree;
    m.prev = kNil;
    m.next = head_[k];
    if (head_[k] != kNil) meta_[head_[k]].prev = i;
    head_[k] = i;
    ++free_count_[k];
    free_frames_ += uint64_t{1} << k;
}

void BuddyCore::push_held(uint32_t i) {
    push_free(i);
    meta_[i].held = 1;
    held_ += uint32_t{1} << meta_[i].order;
}

void BuddyCore::unlink(uint32_t i) {
    FrameMeta& m = meta_[i];
    if (m.held) {
        m.held = 0;
        held_ -= uint32_t{1} << m.order;
    }
    const uint32_t k = m.order;
    if (m.prev != kNil)
        meta_[m.prev].next = m.next;
    else
        head_[k] = m.next;
    if (m.next != kNil) meta_[m.next].prev = m.prev;
    m.prev = m.next = kNil;
    m.state = kAllocated;
    --free_count_[k];
    free_frames_ -= uint64_t{1} << k;
}

void BuddyCore::apply_split(uint32_t i, SplitSlots halves) {
    FrameMeta& lo = meta_[i];
    const uint32_t k = lo.order - 1;
    const uint32_t up_i = i + (uint32_t{1} << k);
    FrameMeta& up = meta_[up_i];
    up.split = 1;
    up.split_slot = lo.slot;
    up.slot = halves.upper;
    up.order = k;
    lo.slot = halves.lower;
    lo.order = k;
    push_free(up_i);
}

void BuddyCore::join(uint32_t i) {
    FrameMeta& lo = meta_[i];
    FrameMeta& up = meta_[i + (uint32_t{1} << lo.order)];
    lo.slot = up.split_slot;
    lo.order = lo.order + 1;
    up = FrameMeta{}; // kNone: inside the parent
}

Block BuddyCore::block_at(uint32_t i) const {
    const FrameMeta& m = meta_[i];
    return Block{m.slot, (base_pfn_ + i) << kPageShift, static_cast<uint8_t>(m.order)};
}

bool BuddyCore::check() const {
    // Pass 1: the window parses into aligned, disjoint blocks whose interior
    // frames carry nothing; tally them.
    uint64_t total = 0, free = 0, held = 0;
    uint32_t count[kMaxOrder + 1] = {};
    for (uint64_t i = 0; i < meta_.size();) {
        const FrameMeta& m = meta_[i];
        if (m.state == kNone) {
            if (m.split) return false;
            ++i;
            continue;
        }
        if (m.order > kMaxOrder) return false;
        const uint64_t pages = uint64_t{1} << m.order;
        if (!is_aligned(base_pfn_ + i, pages) || i + pages > meta_.size()) return false;
        for (uint64_t j = i + 1; j < i + pages; ++j)
            if (meta_[j].state != kNone || meta_[j].split) return false;
        if (m.held && m.state != kFree) return false;
        if (m.held) held += pages;
        if (m.state == kFree) {
            free += pages;
            ++count[m.order];
        }
        total += pages;
        i += pages;
    }
    if (total != total_frames_ || free != free_frames_ || held != held_) return false;

    // Pass 2: each list holds exactly the free blocks of its order, with
    // consistent back links. Walks are bounded, so a cycle fails the count.
    for (uint32_t k = 0; k <= kMaxOrder; ++k) {
        if (count[k] != free_count_[k]) return false;
        uint32_t prev = kNil, n = 0;
        for (uint32_t i = head_[k]; i != kNil; prev = i, i = meta_[i].next) {
            if (i >= meta_.size() || ++n > count[k]) return false;
            const FrameMeta& m = meta_[i];
            if (m.state != kFree || m.order != k || m.prev != prev) return false;
        }
        if (n != count[k]) return false;
    }
    return true;
}

} // namespace capframe::mm
