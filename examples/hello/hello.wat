;; The smallest useful WASI preview 1 command: writes "Hello from WAT!\n" to stdout with fd_write, then
;; exits with proc_exit(0). Built by ../build.sh with wat2wasm; no libc, no allocator.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit"
    (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; The message at offset 16; one iovec {buf = 16, len = 16} at offset 0; bytes written land at offset 8.
  (data (i32.const 16) "Hello from WAT!\n")
  (func $main (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 0))))
