#include "csr.h"

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
    switch (scause) {
    case 0:
        return "instruction address misaligned";
    case 1:
        return "instruction access fault";
    case 2:
        return "illegal instruction";
    case 3:
        return "breakpoint";
    case 4:
        return "load address misaligned";
    case 5:
        return "load access fault";
    case 6:
        return "store address misaligned";
    case 7:
        return "store access fault";
    case 8:
        return "environment call from U-mode";
    case 9:
        return "environment call from S-mode";
    case 12:
        return "instruction page fault";
    case 13:
        return "load page fault";
    case 15:
        return "store page fault";
    }
    return "unknown exception";
}

bool is_page_fault(uint64_t scause) {
    return scause == 12 || scause == 13 || scause == 15;
}

} // namespace capframe::arch
