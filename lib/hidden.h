// Included first in every kernel translation unit (meson.build,
// kernel_cpp_args): the kernel is one static position-independent image,
// so no symbol can be preempted. Hidden visibility lets the compiler reach
// globals PC-relative (auipc + load) instead of through the GOT (auipc +
// load of the address + load): the trap path touches several per entry.
#pragma once
#pragma GCC visibility push(hidden)
