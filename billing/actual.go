package billing

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
)

// ProjectTagKey is the cost allocation tag actual costs are grouped by. It
// must be activated as a cost allocation tag in the billing console, or
// Cost Explorer groups everything under "no tag".
const ProjectTagKey = "Project"

// costMetric is the metric summed: what was charged, before discounts and
// credits are spread.
const costMetric = "UnblendedCost"

// MonthToDate is the Cost Explorer period of now's UTC month so far: from
// the 1st to the end of today (End is exclusive), so today's partial costs
// count. Cost Explorer refuses an empty period (Start must be before End,
// which End = today would break on the 1st) and an End past the beginning
// of next month (which tomorrow never is).
func MonthToDate(now time.Time) (start, end time.Time) {
	u := now.UTC()
	start = time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
	end = time.Date(u.Year(), u.Month(), u.Day()+1, 0, 0, 0, 0, time.UTC)
	return start, end
}

// FetchActualCosts returns the month-to-date unblended cost in USD per
// Project tag value, for every project at once: one GetCostAndUsage query
// grouped by the tag, through all its pages (NextPageToken). Costs without
// the tag are left out.
func FetchActualCosts(ctx context.Context, client *costexplorer.Client, now time.Time) (map[string]float64, error) {
	start, end := MonthToDate(now)
	in := &costexplorer.GetCostAndUsageInput{
		TimePeriod: &cetypes.DateInterval{
			Start: awssdk.String(start.Format(time.DateOnly)),
			End:   awssdk.String(end.Format(time.DateOnly)),
		},
		Granularity: cetypes.GranularityMonthly,
		Metrics:     []string{costMetric},
		GroupBy:     []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeTag, Key: awssdk.String(ProjectTagKey)}},
	}
	costs := map[string]float64{}
	for {
		out, err := client.GetCostAndUsage(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("cannot get the month-to-date cost per %s tag from Cost Explorer: %w", ProjectTagKey, err)
		}
		for _, r := range out.ResultsByTime {
			for _, g := range r.Groups {
				tag, ok := projectTag(g.Keys)
				if !ok {
					continue
				}
				m, ok := g.Metrics[costMetric]
				if !ok {
					continue
				}
				if unit := awssdk.ToString(m.Unit); unit != "" && unit != "USD" {
					return nil, fmt.Errorf("cost of %s is in %s, not USD", tag, unit)
				}
				usd, err := strconv.ParseFloat(awssdk.ToString(m.Amount), 64)
				if err != nil {
					return nil, fmt.Errorf("cost of %s: amount %q is not a number", tag, awssdk.ToString(m.Amount))
				}
				costs[tag] += usd
			}
		}
		if awssdk.ToString(out.NextPageToken) == "" {
			return costs, nil
		}
		in.NextPageToken = out.NextPageToken
	}
}

// projectTag reads a tag group's key, "Project$chart-app-alice-web"; the
// group of costs without the tag is "Project$".
func projectTag(keys []string) (string, bool) {
	if len(keys) != 1 {
		return "", false
	}
	v, ok := strings.CutPrefix(keys[0], ProjectTagKey+"$")
	return v, ok && v != ""
}
