import Foundation
import Lab
import Testing

struct TimeBreakdownTests {
    /// A phase measured inside another counts as itself only: the outer phase's seconds are its
    /// elapsed time less the inner one's, and the two add up to the outer elapsed time.
    @Test func aNestedPhaseIsSubtractedFromItsParent() {
        let breakdown = TimeBreakdown()
        let start = Date()
        var inside: TimeInterval = 0  // the outer phase's body, timed from within: no longer than the phase
        breakdown.measure(.trainingSteps) {
            let bodyStart = Date()
            usleep(20_000)
            breakdown.measure(.teacherForward) { usleep(30_000) }
            breakdown.measure(.dataAndAugmentation) { usleep(10_000) }
            inside = Date().timeIntervalSince(bodyStart)
        }
        let elapsed = Date().timeIntervalSince(start)
        let t = breakdown.totals
        #expect(t[.teacherForward]! >= 0.03 && t[.dataAndAugmentation]! >= 0.01)
        #expect(t[.trainingSteps]! >= 0.02)
        let sum = t[.trainingSteps]! + t[.teacherForward]! + t[.dataAndAugmentation]!
        #expect(sum >= inside && sum <= elapsed, "the phases add up to \(sum) s, outside \(inside)...\(elapsed) s")
        #expect(t[.evaluation] == nil)
    }

    /// The process's age from /proc counts the time before the first measurement too.
    @Test func theWallClockStartsWithTheProcess() {
        let age = TimeBreakdown.secondsSinceProcessStart()
        #expect(age.isFinite && age > 0 && age < 24 * 3600)
    }
}
