/* Counter-based randomness for the data pipeline: every random decision is a
 * hash of the values that name it (seed, epoch, step, position), so nothing
 * depends on how many decisions came before. The mixer is the finaliser of
 * SplitMix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number
 * generators", OOPSLA 2014). */
#ifndef DX_DATA_MIX_H
#define DX_DATA_MIX_H

#include <stdint.h>

/* Separate streams, so that the flips of step k never correlate with the
 * permutation of epoch k. */
enum { DX_STREAM_ORDER = 1, DX_STREAM_FLIP = 2 };

static inline uint64_t dx_mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline uint64_t dx_mix_key(uint64_t stream, uint64_t a, uint64_t b) {
  return dx_mix64(dx_mix64(dx_mix64(stream) ^ a) ^ b);
}

#endif
