#!/usr/bin/env node
// `npx funnelsync <command>`: the TypeScript sources run through tsx, like every other entry point.
"use strict";
require("tsx/cjs");
require("../src/main.ts");
