// A persistent pool of worker threads for the runtime's parallel loops. Workers spin briefly
// (with pause instructions) after each loop so the next loop starts without a system call,
// then sleep on a condition variable, so an idle or contended machine is not burned.
//
// Work is claimed through one 64-bit counter tagged with the loop's generation, so a worker
// that arrives late can never run an index of a later loop with an earlier loop's function.
// A loop returns only when every worker that joined it has left it.
#include "aimet_kernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AIMET_PAUSE() _mm_pause()
#else
#define AIMET_PAUSE() ((void)0)
#endif

enum { SPIN_ROUNDS = 20000, MAX_WORKERS = 63 };

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static int worker_count = 0;

static atomic_int busy = 0;                 // a loop is running
static atomic_uint_least64_t claims = 0;     // generation << 32 | next index
static atomic_size_t finished = 0;           // indices completed in the current loop
static atomic_int active = 0;                // workers inside the current loop
static atomic_uint_least32_t announced = 0;  // generation, for spinning workers

// Protected by pool_mutex.
static uint32_t generation = 0;
static size_t task_count = 0;
static aimet_task_function task_function = NULL;
static void *task_context = NULL;
static int joined = 0;
static int join_limit = 0;

static void drain(uint32_t loop, size_t count, aimet_task_function function, void *context) {
    for (;;) {
        uint_least64_t value = atomic_load_explicit(&claims, memory_order_acquire);
        if ((uint32_t)(value >> 32) != loop) return;
        size_t index = (size_t)(value & 0xFFFFFFFFu);
        if (index >= count) return;
        if (!atomic_compare_exchange_weak_explicit(&claims, &value, value + 1,
                                                   memory_order_acq_rel, memory_order_acquire)) {
            continue;
        }
        function(context, index);
        atomic_fetch_add_explicit(&finished, 1, memory_order_acq_rel);
    }
}

static void *worker_main(void *unused) {
    (void)unused;
    uint32_t seen = 0;
    for (;;) {
        for (int round = 0; round < SPIN_ROUNDS; round++) {
            if (atomic_load_explicit(&announced, memory_order_acquire) != seen) break;
            AIMET_PAUSE();
        }
        pthread_mutex_lock(&pool_mutex);
        while (generation == seen) pthread_cond_wait(&pool_wake, &pool_mutex);
        seen = generation;
        int join = task_function != NULL && joined < join_limit;
        size_t count = task_count;
        aimet_task_function function = task_function;
        void *context = task_context;
        if (join) {
            joined++;
            atomic_fetch_add_explicit(&active, 1, memory_order_acq_rel);
        }
        pthread_mutex_unlock(&pool_mutex);
        if (join) {
            drain(seen, count, function, context);
            atomic_fetch_sub_explicit(&active, 1, memory_order_acq_rel);
        }
    }
    return NULL;
}

static void start_pool(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = cores > 1 ? (int)cores - 1 : 0;
    if (workers > MAX_WORKERS) workers = MAX_WORKERS;
    for (int index = 0; index < workers; index++) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attributes, 1 << 20);
        if (pthread_create(&thread, &attributes, worker_main, NULL) == 0) worker_count++;
        pthread_attr_destroy(&attributes);
    }
}

int aimet_pool_workers(void) {
    pthread_once(&pool_once, start_pool);
    return worker_count;
}

void aimet_pool_run(size_t count, int threads, aimet_task_function function, void *context) {
    pthread_once(&pool_once, start_pool);
    int expected = 0;
    if (count < 2 || threads < 2 || worker_count == 0 || count > 0xFFFFFFFFu ||
        !atomic_compare_exchange_strong(&busy, &expected, 1)) {
        for (size_t index = 0; index < count; index++) function(context, index);
        return;
    }
    pthread_mutex_lock(&pool_mutex);
    uint32_t loop = ++generation;
    task_count = count;
    task_function = function;
    task_context = context;
    joined = 0;
    join_limit = threads - 1 < worker_count ? threads - 1 : worker_count;
    atomic_store_explicit(&finished, 0, memory_order_relaxed);
    atomic_store_explicit(&claims, (uint_least64_t)loop << 32, memory_order_release);
    atomic_store_explicit(&announced, loop, memory_order_release);
    pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_mutex);

    drain(loop, count, function, context);
    while (atomic_load_explicit(&finished, memory_order_acquire) < count) AIMET_PAUSE();
    while (atomic_load_explicit(&active, memory_order_acquire) > 0) AIMET_PAUSE();

    pthread_mutex_lock(&pool_mutex);
    task_function = NULL;
    task_context = NULL;
    pthread_mutex_unlock(&pool_mutex);
    atomic_store_explicit(&busy, 0, memory_order_release);
}
