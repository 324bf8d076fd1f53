// Native parts of the net area (see src/sys/native-net.ts).
#include "common.h"

namespace rootless {

void InitNet(Napi::Env env, Napi::Object exports) {}

}  // namespace rootless
