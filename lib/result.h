// Errors are values: one enum, one [[nodiscard]] Result<T>, one TRY macro.
// Shared by the kernel and by the host unit tests (pure logic, no OS).
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

namespace capframe {

enum class Error : uint8_t {
    InvalidArgument = 1, // a value that can never be right (zero size, bad flags)
    Misaligned,          // an address or size that is not page aligned
    OutOfRange,          // an address outside the space it must lie in
    AlreadyMapped,       // map over an existing mapping
    NotMapped,           // unmap/protect/translate of nothing
    NoMemory,            // the allocator said no
    WouldSplitLargePage, // the range cuts through a 2 MiB / 1 GiB leaf
    BadFormat,           // malformed input (device tree, ELF, ...)
    Truncated,           // input shorter than its header says
    NotFound,            // a lookup found nothing
    TooMany,             // a fixed-size table is full
    Fault,               // a user pointer that does not point to user memory
    // Capability outcomes (kernel/cap.cpp, kernel/syscall.cpp)
    BadSlot,      // the slot is empty
    BadType,      // the slot holds a capability of another type
    Permission,   // the capability lacks a right
    Busy,         // in use: has children, mapped, donated, bound to a thread
    NeedTable,    // a page-table page is missing (the level goes back separately)
    NoCaller,     // reply with nobody waiting for one
    Dead,         // the endpoint went away while waiting
    NoSystemCall, // no system call has that number (in this kernel)
};

const char* error_name(Error e);

// An Error as Result stores it: never 0, which means ok (an Error{} made
// by mistake stays a failure). Folds away for a constant.
constexpr uint64_t error_word(Error e) {
    return e == Error{} ? static_cast<uint64_t>(Error::InvalidArgument) : static_cast<uint64_t>(e);
}

template <class T>
class [[nodiscard]] Result {
  public:
    Result(const T& v) : value_(v) {}
    Result(T&& v) : value_(std::move(v)) {}
    Result(Error e) : error_(error_word(e)) {}

    bool ok() const { return error_ == 0; }
    explicit operator bool() const { return ok(); }
    Error error() const { return static_cast<Error>(error_); }
    T& value() { return value_; }
    const T& value() const { return value_; }
    T release_value() { return std::move(value_); }

  private:
    T value_{};
    // 0 when ok, else the Error (which starts at 1). A whole register: a
    // Result of a word comes back in a0/a1 without being packed bytewise.
    uint64_t error_ = 0;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error e) : error_(error_word(e)) {}
    bool ok() const { return error_ == 0; }
    explicit operator bool() const { return ok(); }
    Error error() const { return static_cast<Error>(error_); }
    void release_value() {}

  private:
    uint64_t error_ = 0; // as above
};

} // namespace capframe

// TRY(expr): evaluate a Result; on error return the error from the enclosing
// function, otherwise yield the value (GNU statement expression).
#define TRY(expr)                                                                                  \
    ({                                                                                             \
        auto _try_result = (expr);                                                                 \
        if (!_try_result.ok()) return _try_result.error();                                         \
        _try_result.release_value();                                                               \
    })
