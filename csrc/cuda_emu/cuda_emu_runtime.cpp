// The scheduler of the CPU emulation of CUDA (see cuda_emu.h for the execution model).
//
// A launch runs its blocks one after another on the calling OS thread. A block's CUDA threads are
// ucontext fibers; the scheduler sweeps over the ready ones (in the configured order), each
// running until it blocks at a barrier or warp collective or ends, then resolves what can
// complete: warp collectives whose lanes have all arrived, then the block barrier. Anything that
// cannot complete is a launch error naming the call sites involved.
//
// Sanitizers: under AddressSanitizer the fiber switches are announced (so stack bookkeeping
// follows the fibers); with CNF_EMU_TSAN every CUDA thread is a ThreadSanitizer fiber and fiber
// switches do not synchronise: only CUDA's own orderings (barriers within the block, collectives
// within the warp, the launch boundaries) create happens-before edges, and blocks are never
// ordered after one another, so a missing barrier or a non-atomic update is reported whatever
// order the fibers ran in. This file itself is never
// instrumented: it is the emulated hardware.
#include "cuda_emu.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CNF_EMU_ASAN 1
#endif
#if defined(CNF_EMU_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace cnf_emu {
namespace {

constexpr unsigned int kWarp = 32;
constexpr unsigned int kMaxThreads = 1024;
constexpr std::size_t kMaxSharedBytes = 48 * 1024;
// __shared__ variables per block. The list of them has this capacity from the launch's start, so
// that the CUDA thread that declares one never reallocates it: the allocation would be attributed
// to that thread, and ThreadSanitizer would report the scheduler's later copy of the list.
constexpr std::size_t kMaxSharedObjects = 64;
constexpr std::size_t kStackBytes = 256 * 1024;

enum class State { kReady, kBarrier, kCollective, kDone };

// Byte copies and fills of kernel-visible memory. Through volatile, so that they stay loops and do
// not become memcpy/memset calls, which ThreadSanitizer intercepts even in this uninstrumented
// file and would attribute to the CUDA thread that happened to be running.
void copy_bytes(void* dst, const void* src, std::size_t n) {
  auto* d = static_cast<volatile unsigned char*>(dst);
  const auto* s = static_cast<const volatile unsigned char*>(src);
  for (std::size_t i = 0; i < n; ++i) d[i] = s[i];
}

void fill_bytes(void* dst, unsigned char value, std::size_t n) {
  auto* d = static_cast<volatile unsigned char*>(dst);
  for (std::size_t i = 0; i < n; ++i) d[i] = value;
}

bool same_site(const std::source_location& a, const std::source_location& b) {
  return a.line() == b.line() && a.column() == b.column() &&
         std::strcmp(a.file_name(), b.file_name()) == 0 &&
         std::strcmp(a.function_name(), b.function_name()) == 0;
}

std::string describe(const std::source_location& s) {
  const char* file = std::strrchr(s.file_name(), '/');
  return std::string(file != nullptr ? file + 1 : s.file_name()) + ":" + std::to_string(s.line()) +
         " (" + s.function_name() + ")";
}

struct Thread {
  ucontext_t context;
  void* stack = nullptr;
  Coordinates coords;
  unsigned int linear = 0;  // x + y * bx + z * bx * by
  State state = State::kReady;
  std::source_location site;
  // The posted collective.
  Collective op = Collective::kSyncWarp;
  unsigned int mask = 0;
  int arg = 0, width = 0;
  std::size_t size = 0;
  unsigned char value[8] = {};
  void* result = nullptr;
  unsigned int generation = 0;  // of the barrier or warp collective it waits at
#if defined(CNF_EMU_ASAN)
  void* fake_stack = nullptr;
#endif
#if defined(CNF_EMU_TSAN)
  void* tsan_fiber = nullptr;
#endif
};

struct SharedObject {
  const void* tag;
  void* data;
};

struct Block {
  std::vector<Thread> threads;
  ucontext_t scheduler;
  Thread* current = nullptr;
  std::string error;
  std::vector<SharedObject> shared;   // of the running block
  std::vector<SharedObject> retired;  // of the blocks that ran before it in this launch
  std::size_t shared_bytes = 0;
  unsigned char poison = 0;
  unsigned int barrier_generation = 0;
  std::vector<unsigned int> warp_generation;
  void (*body)(void*) = nullptr;
  void* context = nullptr;
#if defined(CNF_EMU_ASAN)
  const void* scheduler_stack = nullptr;
  std::size_t scheduler_stack_size = 0;
  void* scheduler_fake_stack = nullptr;
#endif
#if defined(CNF_EMU_TSAN)
  void* scheduler_fiber = nullptr;
  char barrier_token[2] = {};
  std::vector<char> warp_token;  // two per warp
  std::vector<void*> ended_fibers;
#endif
};

// Sync objects of the launch boundaries: host -> every CUDA thread, every CUDA thread -> host.
[[maybe_unused]] char g_launch_token, g_exit_token;

thread_local Block* t_block = nullptr;
// The running CUDA thread's coordinates, copied in at every switch: kernels read them, and a
// per-OS-thread copy keeps those reads off the scheduler's bookkeeping, which it rewrites and
// frees while abandoned fibers (of a failed block) never synchronise with it again.
thread_local Coordinates t_coordinates;
thread_local cudaError_t t_last_error = cudaSuccess;
thread_local std::string t_last_message;
thread_local std::vector<void*> t_stacks;  // reused across blocks and launches
thread_local uint64_t t_launches = 0;

void* acquire_stack(std::size_t index) {
  while (t_stacks.size() <= index) {
    const long page = sysconf(_SC_PAGESIZE);
    void* m = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) {
      std::perror("cnf_emu: mmap of a fiber stack");
      std::abort();
    }
    mprotect(m, page, PROT_NONE);  // guard page below the stack: an overflow faults
    t_stacks.push_back(static_cast<char*>(m) + page);
  }
#if defined(CNF_EMU_ASAN)
  // An abandoned fiber (its block failed) may have left redzones in the shadow of its stack.
  __asan_unpoison_memory_region(t_stacks[index], kStackBytes);
#endif
#if defined(CNF_EMU_TSAN)
  // A fresh mapping clears the stack's history: the thread that used it before is no more
  // ordered before the next one than any two CUDA threads are.
  mmap(t_stacks[index], kStackBytes, PROT_READ | PROT_WRITE,
       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK | MAP_FIXED, -1, 0);
#endif
  return t_stacks[index];
}

void record(cudaError_t err, const std::string& message) {
  if (t_last_error == cudaSuccess) {
    t_last_error = err;
    t_last_message = message;
  }
}

// ---- Fiber switches ----------------------------------------------------------------------------

// From the scheduler into thread t, until t blocks or ends.
void resume(Block& b, Thread& t) {
  b.current = &t;
  t_coordinates = t.coords;
#if defined(CNF_EMU_TSAN)
  __tsan_switch_to_fiber(t.tsan_fiber, __tsan_switch_to_fiber_no_sync);
#endif
#if defined(CNF_EMU_ASAN)
  __sanitizer_start_switch_fiber(&b.scheduler_fake_stack, t.stack, kStackBytes);
#endif
  swapcontext(&b.scheduler, &t.context);
#if defined(CNF_EMU_ASAN)
  __sanitizer_finish_switch_fiber(b.scheduler_fake_stack, nullptr, nullptr);
#endif
  b.current = nullptr;
}

// From the running thread back to the scheduler; returns when the scheduler resumes it. A thread
// that has ended (state kDone) never returns from here.
void suspend(Block& b, Thread& self) {
#if defined(CNF_EMU_TSAN)
  __tsan_switch_to_fiber(b.scheduler_fiber, __tsan_switch_to_fiber_no_sync);
#endif
#if defined(CNF_EMU_ASAN)
  const bool exiting = self.state == State::kDone;
  __sanitizer_start_switch_fiber(exiting ? nullptr : &self.fake_stack, b.scheduler_stack,
                                 b.scheduler_stack_size);
#endif
  swapcontext(&self.context, &b.scheduler);
#if defined(CNF_EMU_ASAN)
  __sanitizer_finish_switch_fiber(self.fake_stack, &b.scheduler_stack, &b.scheduler_stack_size);
#endif
}

// A thread's error ends the block: the scheduler abandons the remaining fibers.
[[noreturn]] void abort_thread(const std::string& message) {
  Block& b = *t_block;
  Thread& self = *b.current;
  if (b.error.empty()) b.error = message;
  self.state = State::kDone;
#if defined(CNF_EMU_TSAN)
  __tsan_release(&g_exit_token);  // the scheduler reads the message
#endif
  suspend(b, self);
  std::abort();  // unreachable: the scheduler never resumes an ended thread
}

void fiber_main(unsigned int index) {
  Block& b = *t_block;
  Thread& self = b.threads[index];
#if defined(CNF_EMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &b.scheduler_stack, &b.scheduler_stack_size);
#endif
#if defined(CNF_EMU_TSAN)
  __tsan_acquire(&g_launch_token);
#endif
  b.body(b.context);
#if defined(CNF_EMU_TSAN)
  __tsan_release(&g_exit_token);
#endif
  self.state = State::kDone;
  suspend(b, self);
}

// ---- Resolution of collectives and barriers ----------------------------------------------------

unsigned int warp_of(const Thread& t) { return t.linear / kWarp; }
unsigned int lane_of(const Thread& t) { return t.linear % kWarp; }

// The result of collective `op` for lane `lane` of the group `lanes` (threads by lane, all posted
// with the same op, mask and site). Returns false with `error` set when it is undefined in CUDA.
bool evaluate(Thread* const lanes[kWarp], unsigned int mask, unsigned int lane,
              std::string& error) {
  Thread& me = *lanes[lane];
  const unsigned int w = static_cast<unsigned int>(me.width);
  const unsigned int segment = lane & ~(w - 1);
  unsigned int src = lane;
  switch (me.op) {
    case Collective::kShflIdx:
      src = segment | (static_cast<unsigned int>(me.arg) & (w - 1));
      break;
    case Collective::kShflUp:
      src = (lane & (w - 1)) >= static_cast<unsigned int>(me.arg) ? lane - me.arg : lane;
      break;
    case Collective::kShflDown:
      src = (lane & (w - 1)) + static_cast<unsigned int>(me.arg) < w ? lane + me.arg : lane;
      break;
    case Collective::kShflXor:
      src = lane ^ (static_cast<unsigned int>(me.arg) & (kWarp - 1));
      if ((src & ~(w - 1)) != segment) src = lane;
      break;
    default: {
      uint64_t out = 0;
      unsigned int votes = 0, count = 0;
      for (unsigned int l = 0; l < kWarp; ++l) {
        if (!(mask >> l & 1u)) continue;
        uint64_t v = 0, mine = 0;
        copy_bytes(&v, lanes[l]->value, me.size);
        copy_bytes(&mine, me.value, me.size);
        if (v != 0) votes |= 1u << l;
        if (me.op == Collective::kMatchAny && v == mine) out |= uint64_t{1} << l;
        ++count;
      }
      if (me.op == Collective::kBallot) out = votes;
      if (me.op == Collective::kAny) out = votes != 0;
      if (me.op == Collective::kAll) out = static_cast<unsigned int>(__builtin_popcount(votes)) == count;
      if (me.op != Collective::kSyncWarp) copy_bytes(me.result, &out, me.size);
      return true;
    }
  }
  if (!(mask >> src & 1u)) {
    error = "lane " + std::to_string(lane) + " reads lane " + std::to_string(src) +
            ", which is not in the mask, at " + describe(me.site);
    return false;
  }
  copy_bytes(me.result, lanes[src]->value, me.size);
  return true;
}

// Completes every warp collective whose lanes have all arrived. Returns whether any did.
bool complete_collectives(Block& b) {
  bool progressed = false;
  const unsigned int warps = static_cast<unsigned int>((b.threads.size() + kWarp - 1) / kWarp);
  for (unsigned int warp = 0; warp < warps && b.error.empty(); ++warp) {
    Thread* lanes[kWarp] = {};
    for (unsigned int l = 0; l < kWarp && warp * kWarp + l < b.threads.size(); ++l) {
      lanes[l] = &b.threads[warp * kWarp + l];
    }
    for (unsigned int l = 0; l < kWarp; ++l) {
      Thread* t = lanes[l];
      if (t == nullptr || t->state != State::kCollective) continue;
      const unsigned int mask = t->mask;
      bool complete = true;
      for (unsigned int m = 0; m < kWarp && complete; ++m) {
        if (!(mask >> m & 1u)) continue;
        const Thread* peer = lanes[m];
        if (peer == nullptr || peer->state == State::kDone) {
          b.error = "lane " + std::to_string(m) + " named in the mask of the collective at " +
                    describe(t->site) + " has exited or does not exist";
          return false;
        }
        if (peer->state == State::kBarrier) complete = false;  // deadlock unless resolved
        if (peer->state == State::kCollective &&
            (peer->mask != mask || peer->op != t->op || !same_site(peer->site, t->site))) {
          b.error = "lane " + std::to_string(m) + " is at a different collective (" +
                    describe(peer->site) + ") than lane " + std::to_string(l) + " (" +
                    describe(t->site) + ") with mask " + std::to_string(mask);
          return false;
        }
      }
      if (!complete) continue;
      for (unsigned int m = 0; m < kWarp; ++m) {
        if ((mask >> m & 1u) && !evaluate(lanes, mask, m, b.error)) return false;
      }
      for (unsigned int m = 0; m < kWarp; ++m) {
        if (mask >> m & 1u) lanes[m]->state = State::kReady;
      }
      ++b.warp_generation[warp];
      progressed = true;
    }
  }
  return progressed;
}

// Releases the block barrier when every live thread waits at it. Returns whether it did.
bool release_barrier(Block& b) {
  const Thread* first = nullptr;
  std::size_t exited = 0;
  for (const Thread& t : b.threads) {
    if (t.state == State::kDone) ++exited;
    if (t.state == State::kCollective) return false;
    if (t.state == State::kBarrier) {
      if (first == nullptr) first = &t;
      if (!same_site(first->site, t.site)) {
        b.error = "threads of the block wait at different __syncthreads: " +
                  describe(first->site) + " and " + describe(t.site);
        return false;
      }
    }
  }
  if (first == nullptr) return false;
  if (exited > 0) {
    b.error = "__syncthreads at " + describe(first->site) + " reached after " +
              std::to_string(exited) + " thread(s) of the block exited";
    return false;
  }
  for (Thread& t : b.threads) t.state = State::kReady;
  ++b.barrier_generation;
  return true;
}

std::string deadlock(const Block& b) {
  std::string sites;
  for (const Thread& t : b.threads) {
    if (t.state == State::kBarrier || t.state == State::kCollective) {
      const std::string s = (t.state == State::kBarrier ? "__syncthreads at " : "collective at ") +
                            describe(t.site);
      if (sites.find(s) == std::string::npos) sites += (sites.empty() ? "" : "; ") + s;
    }
  }
  return "deadlock: threads wait at " + sites;
}

// ---- Launch ------------------------------------------------------------------------------------

enum class Order { kForward, kReverse, kRandom };

struct Schedule {
  Order order = Order::kForward;
  uint64_t seed = 0;
  unsigned char poison = 0xa5;
};

bool read_schedule(Schedule& s, std::string& error) {
  if (const char* order = std::getenv("CNF_EMU_ORDER"); order != nullptr && *order != 0) {
    const std::string o = order;
    if (o == "forward") s.order = Order::kForward;
    else if (o == "reverse") s.order = Order::kReverse;
    else if (o == "random") s.order = Order::kRandom;
    else {
      error = "CNF_EMU_ORDER must be forward, reverse or random; got '" + o + "'";
      return false;
    }
  }
  if (const char* seed = std::getenv("CNF_EMU_SEED")) s.seed = std::strtoull(seed, nullptr, 0);
  if (const char* poison = std::getenv("CNF_EMU_POISON")) {
    s.poison = static_cast<unsigned char>(std::strtoul(poison, nullptr, 0));
  }
  return true;
}

// The order in which `n` items (blocks, or the ready threads of a sweep) are run.
void arrange(std::vector<unsigned int>& items, Order order, std::mt19937_64& rng) {
  if (order == Order::kReverse) std::reverse(items.begin(), items.end());
  if (order == Order::kRandom) std::shuffle(items.begin(), items.end(), rng);
}

std::string config_error(dim3 grid, dim3 block, std::size_t shared_bytes) {
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  if (threads == 0 || threads > kMaxThreads || block.x > 1024 || block.y > 1024 || block.z > 64) {
    return "block (" + std::to_string(block.x) + ", " +
           std::to_string(block.y) + ", " + std::to_string(block.z) + ")";
  }
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 0x7fffffffu || grid.y > 65535 ||
      grid.z > 65535) {
    return "grid (" + std::to_string(grid.x) + ", " +
           std::to_string(grid.y) + ", " + std::to_string(grid.z) + ")";
  }
  if (shared_bytes != 0) return "dynamic shared memory is not supported by the CPU emulation";
  return "";
}

void free_shared(Block& b) {
  for (const SharedObject& s : b.shared) std::free(s.data);
  for (const SharedObject& s : b.retired) std::free(s.data);
  b.shared.clear();
  b.retired.clear();
  b.shared_bytes = 0;
}

#if defined(CNF_EMU_TSAN)
// ThreadSanitizer keeps at most 8128 threads alive, fibers included. The fibers of ended blocks
// are kept (no block is ordered after another by a destruction) up to this many, then destroyed
// before the next block: a launch of more threads is checked in windows of this size.
constexpr std::size_t kTsanFiberWindow = 6144;

void destroy_ended_fibers(Block& b) {
  for (void* fiber : b.ended_fibers) __tsan_destroy_fiber(fiber);
  b.ended_fibers.clear();
}
#endif

// Runs one block to completion; returns false with b.error set when it fails.
bool run_block(Block& b, dim3 grid, dim3 block, uint3 block_idx, const Schedule& s,
               std::mt19937_64& rng) {
  const unsigned int n = block.x * block.y * block.z;
  b.threads.assign(n, Thread{});
  b.warp_generation.assign((n + kWarp - 1) / kWarp, 0);
#if defined(CNF_EMU_TSAN)
  b.warp_token.assign(2 * b.warp_generation.size(), 0);
#endif
  b.error.clear();
  b.retired.insert(b.retired.end(), b.shared.begin(), b.shared.end());
  b.shared.clear();
  b.shared_bytes = 0;
  b.poison = s.poison;
  b.barrier_generation = 0;
  for (unsigned int i = 0; i < n; ++i) {
    Thread& t = b.threads[i];
    t.linear = i;
    t.coords = {{i % block.x, i / block.x % block.y, i / (block.x * block.y)}, block_idx, block,
                grid};
    t.stack = acquire_stack(i);
    getcontext(&t.context);
    t.context.uc_stack.ss_sp = t.stack;
    t.context.uc_stack.ss_size = kStackBytes;
    t.context.uc_link = nullptr;
    makecontext(&t.context, reinterpret_cast<void (*)()>(&fiber_main), 1, i);
#if defined(CNF_EMU_TSAN)
    t.tsan_fiber = __tsan_create_fiber(0);
#endif
  }
  std::vector<unsigned int> order;
  bool ok = true;
  while (ok) {
    order.clear();
    for (unsigned int i = 0; i < n; ++i) {
      if (b.threads[i].state == State::kReady) order.push_back(i);
    }
    if (order.empty()) {
      bool all_done = true;
      for (const Thread& t : b.threads) all_done = all_done && t.state == State::kDone;
      if (all_done) break;
      if (complete_collectives(b) || (b.error.empty() && release_barrier(b))) continue;
      if (b.error.empty()) b.error = deadlock(b);
      ok = false;
      break;
    }
    arrange(order, s.order, rng);
    for (unsigned int i : order) {
      resume(b, b.threads[i]);
      if (!b.error.empty()) {
        ok = false;
        break;
      }
    }
  }
#if defined(CNF_EMU_TSAN)
  // Abandoned threads (the block failed) end here: in their TSan context, as if they had exited.
  for (Thread& t : b.threads) {
    if (t.state == State::kDone) continue;
    __tsan_switch_to_fiber(t.tsan_fiber, __tsan_switch_to_fiber_no_sync);
    __tsan_release(&g_exit_token);
    __tsan_switch_to_fiber(b.scheduler_fiber, __tsan_switch_to_fiber_no_sync);
  }
  // Destroyed only at the launch's end: destroying a fiber orders it before the destroyer, and
  // through it before the fibers of the next block.
  for (Thread& t : b.threads) b.ended_fibers.push_back(t.tsan_fiber);
#endif
  return ok;
}

}  // namespace

const Coordinates& coordinates() { return t_coordinates; }

void* block_shared(const void* tag, std::size_t size, std::size_t align, const char* name) {
  Block& b = *t_block;
  for (const SharedObject& s : b.shared) {
    if (s.tag == tag) {
#if defined(CNF_EMU_TSAN)
      __tsan_acquire(s.data);  // shared memory exists before any thread of the block uses it
#endif
      return s.data;
    }
  }
  if (b.shared.size() == kMaxSharedObjects) {
    abort_thread("more than " + std::to_string(kMaxSharedObjects) +
                 " __shared__ variables per block (with '" + name + "')");
  }
  if (b.shared_bytes + size > kMaxSharedBytes) {
    abort_thread("more than 48 KiB of shared memory per block (" +
                 std::to_string(b.shared_bytes + size) + " bytes with '" + name + "')");
  }
  align = std::max<std::size_t>(align, 16);
  // Each object is its own allocation, so that AddressSanitizer knows its exact bounds.
  void* data = std::aligned_alloc(align, (size + align - 1) / align * align);
  fill_bytes(data, b.poison, size);
#if defined(CNF_EMU_TSAN)
  __tsan_release(data);
#endif
  b.shared.push_back({tag, data});
  b.shared_bytes += size;
  return data;
}

void sync_threads(const std::source_location& site) {
  Block& b = *t_block;
  Thread& self = *b.current;
  self.state = State::kBarrier;
  self.site = site;
  self.generation = b.barrier_generation;
#if defined(CNF_EMU_TSAN)
  __tsan_release(&b.barrier_token[self.generation & 1]);
#endif
  suspend(b, self);
#if defined(CNF_EMU_TSAN)
  __tsan_acquire(&b.barrier_token[self.generation & 1]);
#endif
}

void warp_collective(Collective op, unsigned int mask, const void* value, std::size_t size,
                     int arg, int width, void* result, const std::source_location& site) {
  Block& b = *t_block;
  Thread& self = *b.current;
  if (width < 1 || width > static_cast<int>(kWarp) || (width & (width - 1)) != 0) {
    abort_thread("warp collective width " + std::to_string(width) +
                 " is not a power of two in [1, 32], at " + describe(site));
  }
  if (!(mask >> lane_of(self) & 1u)) {
    abort_thread("lane " + std::to_string(lane_of(self)) +
                 " calls a collective whose mask does not include it, at " + describe(site));
  }
  self.state = State::kCollective;
  self.op = op;
  self.mask = mask;
  self.arg = arg;
  self.width = width;
  self.size = size;
  copy_bytes(self.value, value, size);
  self.result = result;
  self.site = site;
  const unsigned int warp = warp_of(self);
  self.generation = b.warp_generation[warp];
#if defined(CNF_EMU_TSAN)
  char* token = &b.warp_token[2 * warp + (self.generation & 1)];
  __tsan_release(token);
#endif
  suspend(b, self);
#if defined(CNF_EMU_TSAN)
  __tsan_acquire(token);
#endif
}

void run_launch(dim3 grid, dim3 block, std::size_t shared_bytes, void (*body)(void*),
                void* context) {
  const std::string config = config_error(grid, block, shared_bytes);
  if (!config.empty()) {
    record(cudaErrorInvalidConfiguration, config);
    return;
  }
  Schedule s;
  std::string error;
  if (!read_schedule(s, error)) {
    record(cudaErrorInvalidValue, error);
    return;
  }
  // Each launch has its own random stream, fixed by the seed and the launch's position.
  std::mt19937_64 rng(s.seed * 0x9e3779b97f4a7c15ull + t_launches++);
  std::vector<unsigned int> blocks(grid.x * grid.y * grid.z);
  for (unsigned int i = 0; i < blocks.size(); ++i) blocks[i] = i;
  arrange(blocks, s.order, rng);

  Block b;
  b.shared.reserve(kMaxSharedObjects);
  b.body = body;
  b.context = context;
  Block* const outer = t_block;
  t_block = &b;
#if defined(CNF_EMU_TSAN)
  b.scheduler_fiber = __tsan_get_current_fiber();
  __tsan_release(&g_launch_token);
#endif
  for (unsigned int i : blocks) {
    const uint3 idx{i % grid.x, i / grid.x % grid.y, i / (grid.x * grid.y)};
#if defined(CNF_EMU_TSAN)
    if (b.ended_fibers.size() + block.x * block.y * block.z > kTsanFiberWindow) {
      destroy_ended_fibers(b);
    }
#endif
    if (!run_block(b, grid, block, idx, s, rng)) {
#if defined(CNF_EMU_TSAN)
      __tsan_acquire(&g_exit_token);  // the failing thread wrote the message; the launch ends
#endif
      record(cudaErrorLaunchFailure,
             "block (" + std::to_string(idx.x) + ", " + std::to_string(idx.y) + ", " +
                 std::to_string(idx.z) + "): " + b.error);
      break;
    }
  }
#if defined(CNF_EMU_TSAN)
  destroy_ended_fibers(b);
  __tsan_acquire(&g_exit_token);
#endif
  // Freed only now: under ThreadSanitizer the scheduler synchronises with the CUDA threads only
  // at the end of the launch, so that no block is ordered after another.
  free_shared(b);
  t_block = outer;
}

cudaError_t take_last_error() {
  const cudaError_t err = t_last_error;
  t_last_error = cudaSuccess;
  return err;
}

cudaError_t peek_last_error() { return t_last_error; }

const char* error_string(cudaError_t err) {
  // The message of the last recorded error stays readable after cudaGetLastError() took it.
  thread_local std::string text;
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: text = "invalid argument"; break;
    case cudaErrorInvalidConfiguration: text = "invalid configuration argument"; break;
    case cudaErrorLaunchFailure: text = "unspecified launch failure"; break;
  }
  if (!t_last_message.empty()) text += " (" + t_last_message + ")";
  return text.c_str();
}

}  // namespace cnf_emu
