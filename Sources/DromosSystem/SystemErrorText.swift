public import Glibc

/// errno in words, for messages that go to an operator.
public func systemErrorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
