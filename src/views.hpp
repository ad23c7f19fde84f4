// views.hpp (private to the library) — a parameter's slot in a flat buffer
// seen as a row-major (rows, cols) matrix.
#pragma once

#include "recur/tensor.hpp"

namespace recur {

template <class T>
MatrixMap<T> mat(Buffer<T>& buf, std::size_t off, int r, int c) {
  return MatrixMap<T>(buf.data() + off, r, c);
}
template <class T>
ConstMatrixMap<T> cmat(const Buffer<T>& buf, std::size_t off, int r, int c) {
  return ConstMatrixMap<T>(buf.data() + off, r, c);
}

}  // namespace recur
