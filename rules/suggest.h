// Nearest-name suggestions for error messages ("did you mean ...?").
//
// Used by the rule loader for unknown keys, scores, stages, strategies and time zones: a typo
// should be answered with the name the admin most likely meant, not just "unknown".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace handoff {

// Optimal-string-alignment edit distance: insertions, deletions, substitutions and transpositions
// of two adjacent characters each cost 1 ("pionts" -> "points" is 1). Compares bytes
// case-insensitively (ASCII).
int EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word`, when it is close enough to be a likely typo (distance at most
// 1 for words of up to 3 characters, 2 up to 6, else 3, and less than the word's length); ties go
// to the earlier candidate. Empty when nothing is close, or when `word` is itself a candidate.
std::string_view NearestName(std::string_view word,
                             const std::vector<std::string_view>& candidates);

// ` (did you mean "NAME"?)` for the nearest candidate, or "" when there is none.
std::string DidYouMean(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace handoff
