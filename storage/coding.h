// Byte coding shared by the store's value formats: varints, fixed doubles, length-prefixed
// strings. Readers take a view they advance and return false on truncation; they never read past
// the end, so any bytes from disk decode safely.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace handoff::coding {

inline void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline void PutDouble(double d, std::string* out) {
  char buf[8];
  std::memcpy(buf, &d, 8);
  out->append(buf, 8);
}

inline void PutString(std::string_view s, std::string* out) {
  PutVarint(s.size(), out);
  out->append(s);
}

// Appends fields to a string through a pointer. std::string's append is an out-of-line call
// and its copy a call into memcpy, per field: encoding a lead (75 fields) took ~460 ns, most of
// it those calls (bench/encode_bench.cc). A Writer makes room in steps of at least kStep bytes
// and writes each field with a few stores.
//
// Until the Writer is destroyed the string is longer than what was written (its tail is zero
// bytes); the destructor trims it. One Writer per string at a time; not thread-safe.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out), next_(out->data() + out->size()), end_(next_) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer() { out_->resize(static_cast<size_t>(next_ - out_->data())); }

  void PutByte(uint8_t b) {
    Room(1);
    *next_++ = static_cast<char>(b);
  }
  void PutVarint(uint64_t v) {
    Room(10);
    while (v >= 0x80) {
      *next_++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *next_++ = static_cast<char>(v);
  }
  void PutDouble(double d) {
    Room(8);
    std::memcpy(next_, &d, 8);
    next_ += 8;
  }
  // Varint length, then the bytes (the PutString format).
  void PutString(std::string_view s) {
    const size_t n = s.size();
    Room(n + 10);
    if (n < 0x80) {
      *next_++ = static_cast<char>(n);
    } else {
      PutVarint(n);
    }
    CopyIn(next_, s.data(), n);
    next_ += n;
  }

 private:
  static constexpr size_t kStep = 512;

  // Makes sure the next n bytes fit.
  void Room(size_t n) {
    if (static_cast<size_t>(end_ - next_) < n) {
      Grow(n);
    }
  }
  // Out of line, so that Room inlines into every field.
  [[gnu::noinline]] void Grow(size_t n) {
    // Zero-fills at most kStep + n bytes, once per kStep written; the string's own growth
    // policy (doubling) decides when it reallocates.
    const size_t used = static_cast<size_t>(next_ - out_->data());
    out_->resize(used + std::max(n, kStep));
    next_ = out_->data() + used;
    end_ = out_->data() + out_->size();
  }
  // Small copies as two overlapping loads and stores each (ids, rule names and short strings
  // are most of what is copied), the rest through memcpy.
  static void CopyIn(char* dst, const char* src, size_t n) {
    if (n >= 8 && n <= 16) {
      CopyEnds<uint64_t>(dst, src, n);
    } else if (n >= 4 && n < 8) {
      CopyEnds<uint32_t>(dst, src, n);
    } else if (n > 0 && n < 4) {
      dst[0] = src[0];
      dst[n / 2] = src[n / 2];
      dst[n - 1] = src[n - 1];
    } else if (n > 16) {
      std::memcpy(dst, src, n);
    }
  }

  // n bytes, sizeof(Word) <= n <= 2 * sizeof(Word): the first and the last Word, overlapping.
  template <typename Word>
  static void CopyEnds(char* dst, const char* src, size_t n) {
    Word head;
    Word tail;
    std::memcpy(&head, src, sizeof(Word));
    std::memcpy(&tail, src + n - sizeof(Word), sizeof(Word));
    std::memcpy(dst, &head, sizeof(Word));
    std::memcpy(dst + n - sizeof(Word), &tail, sizeof(Word));
  }

  std::string* out_;
  char* next_;  // where the next byte goes
  char* end_;   // the end of the room made so far
};

[[nodiscard]] inline bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

[[nodiscard]] inline bool GetDouble(std::string_view* in, double* d) {
  if (in->size() < 8) {
    return false;
  }
  std::memcpy(d, in->data(), 8);
  in->remove_prefix(8);
  return true;
}

[[nodiscard]] inline bool GetByte(std::string_view* in, uint8_t* b) {
  if (in->empty()) {
    return false;
  }
  *b = static_cast<uint8_t>(in->front());
  in->remove_prefix(1);
  return true;
}

// A view of the string in place (valid as long as the input bytes are).
[[nodiscard]] inline bool GetStringView(std::string_view* in, std::string_view* s) {
  uint64_t n = 0;
  if (!GetVarint(in, &n) || n > in->size()) {
    return false;
  }
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

[[nodiscard]] inline bool GetString(std::string_view* in, std::string* s) {
  std::string_view view;
  if (!GetStringView(in, &view)) {
    return false;
  }
  s->assign(view);
  return true;
}

}  // namespace handoff::coding
