;; A start section that never returns: the start function writes "in start\n" to stdout, then loops forever;
;; `_start` would exit 3. Issue 10 item 1: such a guest must be RUNNING (Start returns) and killable.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "in start\n")
  (func $spin
    ;; one iovec at 0: {base 16, len 9}; bytes written go to 8
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 9))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop $forever (br $forever)))
  (start $spin)
  (func (export "_start") (call $proc_exit (i32.const 3))))
