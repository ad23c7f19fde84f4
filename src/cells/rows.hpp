// Private to the cells: (B, k*H) blocks of a step seen as row-major arrays, so
// the gate math is whole-block array expressions that Eigen vectorizes, and
// for float one pass over each row that does all of a step's math on a packet
// of units while it is in registers.
#pragma once

#include <algorithm>
#include <cstddef>

#include "recur/tensor.hpp"

namespace recur {
namespace cells {

template <class T>
using Rows = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
template <class T>
using ConstRows = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

using FloatPacket = Eigen::internal::packet_traits<float>::type;

// An operand of a step's math: row b's units start at p + b * ld.
template <class Ptr>
struct Operand {
  Ptr p;
  int ld;
};
using In = Operand<const float*>;
using Out = Operand<float*>;

// One pass over the units of B rows of H: unit(x, y) reads a packet of units
// from each x[q] and writes one to each y[q] (pointers to the same units of
// every operand). A row's last units, fewer than a packet, go through
// packet-sized buffers, so every unit runs the same instructions and gets the
// same bits wherever it sits. An output may be one of the inputs (the state
// updated in place): each packet is read before it is written.
template <int NI, int NO, class Unit>
void for_each_packet(int B, int H, const In (&in)[NI], const Out (&out)[NO], Unit unit) {
  constexpr int L = Eigen::internal::packet_traits<float>::size;
  const float* x[NI];
  float* y[NO];
  for (int b = 0; b < B; ++b) {
    int j = 0;
    for (; j + L <= H; j += L) {
      for (int q = 0; q < NI; ++q) x[q] = in[q].p + std::size_t(b) * in[q].ld + j;
      for (int q = 0; q < NO; ++q) y[q] = out[q].p + std::size_t(b) * out[q].ld + j;
      unit(x, y);
    }
    if (j < H) {
      alignas(64) float xb[NI][L] = {}, yb[NO][L];
      for (int q = 0; q < NI; ++q) {
        const float* row = in[q].p + std::size_t(b) * in[q].ld;
        std::copy(row + j, row + H, xb[q]);
        x[q] = xb[q];
      }
      for (int q = 0; q < NO; ++q) y[q] = yb[q];
      unit(x, y);
      for (int q = 0; q < NO; ++q) std::copy(yb[q], yb[q] + (H - j), out[q].p + std::size_t(b) * out[q].ld + j);
    }
  }
}

}  // namespace cells
}  // namespace recur
