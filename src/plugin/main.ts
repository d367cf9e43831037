#!/usr/bin/env node
// kubectl-droptrace, the executable: kubectl runs it for `kubectl droptrace ...` when it is on
// PATH (package.json's bin puts it there on `npm install -g`). The commands are in program.ts.
import { main } from "./program.js";

process.exitCode = await main(process.argv.slice(2));
