#include "csr.h"

#include "capframe/abi.h"

namespace capframe::arch {

const char* cause_name(uint64_t scause) {
    if (scause & kCauseInterrupt) {
        switch (scause & ~kCauseInterrupt) {
        case 1:
            return "supervisor software interrupt";
        case 5:
            return "supervisor timer interrupt";
        case 9:
            return "supervisor external interrupt";
        }
        return "unknown interrupt";
    }
    return abi::exception_name(scause);
}

bool is_page_fault(uint64_t scause) {
    return scause == 12 || scause == 13 || scause == 15;
}

} // namespace capframe::arch
