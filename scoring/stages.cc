#include "scoring/stages.h"

namespace handoff {

int NextStage(const std::vector<StageDef>& stages, int current, EvalContext ctx, bool promote) {
  const int top = static_cast<int>(stages.size()) - 1;
  ctx.lead_stage = stages[current].name;
  if (promote) {
    for (int s = top; s > current; --s) {
      if (stages[s].enter.Test(ctx)) {
        return s;
      }
    }
  }
  // Cascading demotion: one stage at a time, re-checking the new stage's exit.
  while (current > 0) {
    const StageDef& stage = stages[current];
    const bool exits = stage.has_exit ? stage.exit.Test(ctx) : !stage.enter.Test(ctx);
    if (!exits) {
      break;
    }
    --current;
    ctx.lead_stage = stages[current].name;
  }
  return current;
}

}  // namespace handoff
