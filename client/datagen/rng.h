// A small, fast, fully specified 64-bit pseudo-random generator (SplitMix64) and the
// sampling helpers built on it, so the generator's output depends only on its seed (never
// on the standard library's distributions). Internal to client/datagen. Thread-compatible.
#ifndef KG_CLIENT_DATAGEN_RNG_H_
#define KG_CLIENT_DATAGEN_RNG_H_

#include <cmath>
#include <cstdint>

namespace kg {
namespace datagen {

// The SplitMix64 finalizer: a bijective 64-bit mix.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A seed for the independent stream `stream` of object `index` under the global `seed`.
inline uint64_t StreamSeed(uint64_t seed, uint64_t stream, uint64_t index) {
  return Mix64(Mix64(seed ^ Mix64(stream)) + index);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n); n > 0.
  uint64_t Uniform(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

  // Uniform in [lo, hi].
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Uniform(static_cast<uint64_t>(hi - lo) + 1));
  }

  // Uniform in [0, 1).
  double Double() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  bool Bernoulli(double p) { return Double() < p; }

  // Exponential with the given mean.
  double Exponential(double mean) { return -mean * std::log(1.0 - Double()); }

  // Approximately standard normal (Irwin-Hall with 4 terms, rescaled).
  double Normal() {
    double sum = Double() + Double() + Double() + Double();
    return (sum - 2.0) * 1.7320508075688772;
  }

 private:
  uint64_t state_;
};

// Draws ranks 0..n-1 with P(rank r) roughly proportional to 1/(r+1)^exponent (a continuous
// approximation of Zipf's law, O(1) per draw). exponent != 1.
class ZipfSampler {
 public:
  ZipfSampler() = default;
  ZipfSampler(uint64_t n, double exponent)
      : n_(n),
        inverse_(1.0 / (1.0 - exponent)),
        span_(std::pow(static_cast<double>(n) + 1.0, 1.0 - exponent) - 1.0) {}

  uint64_t Sample(Rng* rng) const {
    if (n_ <= 1) return 0;
    double x = std::pow(1.0 + rng->Double() * span_, inverse_);
    uint64_t rank = x < 1.0 ? 0 : static_cast<uint64_t>(x) - 1;
    return rank < n_ ? rank : n_ - 1;
  }

  uint64_t size() const { return n_; }

 private:
  uint64_t n_ = 0;
  double inverse_ = 1.0;
  double span_ = 0.0;
};

}  // namespace datagen
}  // namespace kg

#endif  // KG_CLIENT_DATAGEN_RNG_H_
