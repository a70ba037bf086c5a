import Testing
import TandemCore

@Test func durationInSecondsAndMicroseconds() {
    #expect(Duration.milliseconds(1500).seconds == 1.5)
    #expect(Duration.nanoseconds(2_500).microseconds == 2.5)
    #expect(abs((Duration.seconds(3) + .nanoseconds(1)).seconds - 3.000000001) < 1e-15)
    #expect(Duration.seconds(-2).seconds == -2)
}
