;; A WASI reactor (no _start): `_initialize` sets a flag; `run` writes "reactor run\n" to stdout and traps if
;; `_initialize` was not called first; `exit7` calls proc_exit(7). Run as module.wasm#run or #exit7.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "reactor run\n")
  (global $initialized (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $initialized (i32.const 1)))
  (func (export "run")
    (if (i32.eqz (global.get $initialized)) (then unreachable))
    ;; one iovec at 0: {base 16, len 12}; bytes written go to 8
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 12))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "exit7") (call $proc_exit (i32.const 7))))
