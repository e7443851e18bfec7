#include "routing/router_internal.h"

#include "base/ascii.h"

namespace handoff::router_internal {

std::string LowerDomainOf(const Value& traits) {
  const Value* email = traits.Find("email");
  if (email == nullptr || !email->is_string()) {
    return "";
  }
  const std::string& s = email->as_string();
  size_t at = s.rfind('@');
  if (at == std::string::npos) {
    return "";
  }
  return AsciiLowerCopy(std::string_view(s).substr(at + 1));
}

}  // namespace handoff::router_internal
