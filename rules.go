package dsar

// The shipped jurisdiction table. Each figure comes from the statute or
// regulation in the rule's Source, as read when the table was written;
// docs/jurisdictions.md gives the reasoning and names what is unsure. The
// table must be checked against the statute texts before it is relied on,
// and config (the jurisdictions key) replaces it as a whole.

// usNotice is how the US state laws ask an extension to be noticed.
const usNotice = "tell the requester within the first response period, with the reason for the extension"

// usAppealWindow is how long a requester may appeal under the US state laws
// that grant an appeal. The statutes say only "within a reasonable period of
// time after the consumer's receipt of the decision"; 60 days is the
// project's default reading, to be set by each company.
var usAppealWindow = Period{Days: 60}

// The principal time zones of the shipped rules: for a state or country
// spanning several, the one most of its people live in
// (docs/jurisdictions.md names the others).
const (
	pacific  = "America/Los_Angeles"
	mountain = "America/Denver"
	central  = "America/Chicago"
	eastern  = "America/New_York"
)

// usState builds the rule of a US state law with the common shape: 45 days,
// extended once by 45 with notice inside the first 45, read in zone.
func usState(id, name, region, zone, source string, appeal *AppealRule) Rule {
	return Rule{
		ID: id, Name: name, Regions: []string{region},
		Period: Period{Days: 45}, Extension: Period{Days: 45},
		Calendar: "us", Timezone: zone, ExtensionNotice: usNotice, ExtensionNoticeWithin: Period{Days: 45},
		Appeal: appeal, Source: source,
	}
}

// attorneyGeneral is an appeal right decided within days, with the state
// attorney general's complaint contact for an upheld refusal.
func attorneyGeneral(days int, authority, contact string) *AppealRule {
	return &AppealRule{Window: usAppealWindow, Period: Period{Days: days}, Authority: authority, Contact: contact}
}

// DefaultRules is the jurisdiction table shipped with the service. Periods are
// the statutory ones; a company may shorten them in config, never lengthen.
var DefaultRules = Rules{
	// No time zone: the EEA spans four, and the rule counts no business
	// days (a calendar month is the same instant in any zone).
	{
		ID: "gdpr", Name: "EU/EEA GDPR, Art. 12(3)", Countries: EEA,
		Period: Period{Months: 1}, Extension: Period{Months: 2},
		ExtensionNotice:       "inform the requester within one month of receipt, with the reasons for the delay",
		ExtensionNoticeWithin: Period{Months: 1},
		Source:                "Regulation (EU) 2016/679 (GDPR), Art. 12(3)",
	},
	{
		ID: "uk_gdpr", Name: "UK GDPR, Art. 12(3)", Countries: []string{"GB"},
		Period: Period{Months: 1}, Extension: Period{Months: 2}, Calendar: "gb-eng",
		Timezone:              "Europe/London",
		ExtensionNotice:       "inform the requester within one month of receipt, with the reasons for the delay",
		ExtensionNoticeWithin: Period{Months: 1},
		Pause:                 true,
		Source:                "UK GDPR Art. 12(3) and Art. 12A (Data (Use and Access) Act 2025); ICO right of access guidance",
	},
	{
		ID: "us_ccpa", Name: "California CCPA/CPRA", Regions: []string{"US-CA"},
		Period: Period{Days: 45}, Extension: Period{Days: 45}, Calendar: "us-ca", Timezone: pacific,
		ExtensionNotice:       "give the requester notice and an explanation of the reason within the first 45 days",
		ExtensionNoticeWithin: Period{Days: 45},
		Acknowledge:           Period{Days: 10}, AckBusinessDays: true, AckMail: true,
		OptOut: &Track{Period: Period{Days: 15}, BusinessDays: true, NoIdentityDocument: true},
		Source: "Cal. Civ. Code §1798.130(a)(2); Cal. Code Regs. tit. 11, §§7021, 7026(f), 7060(b)",
	},
	usState("us_vcdpa", "Virginia VCDPA", "US-VA", eastern, "Va. Code §59.1-578",
		attorneyGeneral(60, "Virginia Office of the Attorney General", "https://www.oag.state.va.us/consumer-protection/")),
	usState("us_cpa", "Colorado CPA", "US-CO", mountain, "Colo. Rev. Stat. §6-1-1306(2)-(3)",
		attorneyGeneral(45, "Colorado Attorney General", "https://coag.gov/file-complaint/")),
	usState("us_ctdpa", "Connecticut CTDPA", "US-CT", eastern, "Conn. Gen. Stat. §42-518",
		attorneyGeneral(60, "Connecticut Attorney General", "https://www.dir.ct.gov/ag/complaint/")),
	usState("us_ucpa", "Utah UCPA", "US-UT", mountain, "Utah Code §13-61-203", nil),
	usState("us_tdpsa", "Texas TDPSA", "US-TX", central, "Tex. Bus. & Com. Code §§541.052-541.053",
		attorneyGeneral(60, "Texas Attorney General", "https://www.texasattorneygeneral.gov/consumer-protection/file-consumer-complaint")),
	oregon(),
	usState("us_mcdpa_mt", "Montana MCDPA", "US-MT", mountain, "Mont. Code Ann. §30-14-2808",
		attorneyGeneral(60, "Montana Department of Justice, Office of Consumer Protection", "https://dojmt.gov/consumer/")),
	func() Rule {
		r := usState("us_icdpa_ia", "Iowa ICDPA", "US-IA", central, "Iowa Code §715D.4",
			attorneyGeneral(60, "Iowa Attorney General", "https://www.iowaattorneygeneral.gov/for-consumers/file-a-consumer-complaint"))
		r.Period, r.ExtensionNoticeWithin = Period{Days: 90}, Period{Days: 90}
		return r
	}(),
	usState("us_dpdpa", "Delaware DPDPA", "US-DE", eastern, "Del. Code tit. 6, §12D-104",
		attorneyGeneral(60, "Delaware Department of Justice", "https://attorneygeneral.delaware.gov/fraud/cpu/complaint/")),
	usState("us_njdpa", "New Jersey NJDPA", "US-NJ", eastern, "N.J. Stat. §56:8-166.7 et seq. (P.L. 2023, c. 266, §4)",
		attorneyGeneral(45, "New Jersey Division of Consumer Affairs", "https://www.njconsumeraffairs.gov/Pages/Consumer-Complaints.aspx")),
	usState("us_nhpa", "New Hampshire privacy act", "US-NH", eastern, "N.H. Rev. Stat. §507-H:4",
		attorneyGeneral(60, "New Hampshire Attorney General", "https://www.doj.nh.gov/consumer/complaints/")),
	usState("us_tipa", "Tennessee TIPA", "US-TN", central, "Tenn. Code Ann. §47-18-3204",
		attorneyGeneral(60, "Tennessee Attorney General", "https://www.tn.gov/attorneygeneral/working-for-tennessee/consumer-protection.html")),
	usState("us_mcdpa_mn", "Minnesota MCDPA", "US-MN", central, "Minn. Stat. §325M.14",
		attorneyGeneral(45, "Minnesota Attorney General", "https://www.ag.state.mn.us/Office/Complaint.asp")),
	usState("us_icdpa_in", "Indiana ICDPA", "US-IN", "America/Indiana/Indianapolis", "Ind. Code §24-15-3",
		attorneyGeneral(60, "Indiana Attorney General", "https://www.in.gov/attorneygeneral/consumer-protection-division/")),
	usState("us_kcdpa", "Kentucky KCDPA", "US-KY", eastern, "Ky. Rev. Stat. §367.3613 et seq.",
		attorneyGeneral(60, "Kentucky Attorney General", "https://www.ag.ky.gov/")),
	usState("us_ndpa", "Nebraska NDPA", "US-NE", central, "Neb. Rev. Stat. §87-1101 et seq. (LB 1074)",
		attorneyGeneral(60, "Nebraska Attorney General", "https://protectthegoodlife.nebraska.gov/")),
	usState("us_ridtppa", "Rhode Island RIDTPPA", "US-RI", eastern, "R.I. Gen. Laws §6-48.1",
		attorneyGeneral(60, "Rhode Island Attorney General", "https://riag.ri.gov/")),
	usState("us_modpa", "Maryland MODPA", "US-MD", eastern, "Md. Code, Com. Law §14-4605",
		attorneyGeneral(60, "Maryland Attorney General, Consumer Protection Division", "https://www.marylandattorneygeneral.gov/Pages/CPD/Complaint.aspx")),
	{
		ID: "br_lgpd", Name: "Brazil LGPD, Art. 19", Countries: []string{"BR"}, Period: Period{Days: 15},
		Timezone: "America/Sao_Paulo",
		Source:   "Lei nº 13.709/2018 (LGPD), Art. 19, II",
	},
	{
		ID: "ca_pipeda", Name: "Canada PIPEDA, s. 8(3)", Countries: []string{"CA"},
		Period: Period{Days: 30}, Extension: Period{Days: 30}, Timezone: "America/Toronto",
		ExtensionNotice:       "send the requester notice within 30 days of receipt, with the new time limit, the reasons and the right to complain to the Privacy Commissioner",
		ExtensionNoticeWithin: Period{Days: 30},
		Source:                "PIPEDA (S.C. 2000, c. 5), s. 8(3)-(5)",
	},
}

// oregon is Oregon's rule: the common shape, and opt-outs complied with
// "without requiring authentication" (ORS 646A.576(5)(e)): no identity
// document, accepted at submission, on the same 45 days and extension as
// the other requests. Appeals are decided within 45 days (646A.576(6)(d)).
func oregon() Rule {
	r := usState("us_ocpa", "Oregon OCPA", "US-OR", pacific, "Or. Rev. Stat. §646A.576(5)-(6)",
		attorneyGeneral(45, "Oregon Department of Justice", "https://www.doj.state.or.us/consumer-protection/"))
	r.OptOut = &Track{Period: r.Period, Extension: r.Extension, NoIdentityDocument: true}
	return r
}
