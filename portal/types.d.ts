// What Next's generated (and git-ignored) next-env.d.ts provides, so that `tsc -p portal` also
// passes on a clean clone before any `next build` has written that file.
/// <reference types="next" />
/// <reference types="next/image-types/global" />
