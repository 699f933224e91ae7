// Shim of the CUDA runtime header for the CPU emulation: host code sees the runtime API only;
// kernel translation units get the device language too (cuda_emu.h is force-included there).
#pragma once

#include "../cuda_emu_runtime_api.h"
