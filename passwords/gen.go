//go:build ignore

// gen writes common.txt: the passwords most often found in breaches, as the
// public lists of the most common ones show them (the NCSC's top 100,000
// from Have I Been Pwned, SecLists' 10k-most-common, RockYou's head), in
// lower case, at least 8 characters (shorter ones fail the length rule), one
// a line, sorted. Those lists share a shape, and that shape is written out
// here rather than copied: the head of the lists as it is, then the
// common words and names each with the endings people add to them (digits,
// years, an exclamation mark), keyboard walks and repeated digits.
//
// Run with: go run gen.go (from this folder).
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// head is the head of the public lists: entries of 8 characters or more
// as they appear there.
var head = strings.Fields(`
password 12345678 123456789 1234567890 12345678910 qwertyuiop password1 iloveyou 11111111 00000000
1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y qwerty123 qwerty12 qwerty1234 sunshine princess football baseball
welcome1 welcome abc12345 abcd1234 87654321 123123123 1qaz2wsx zaq12wsx passw0rd p@ssw0rd p@ssword
pa$$word pa$$w0rd p@55w0rd trustno1 superman starwars michelle jennifer jordan23 computer corvette
mercedes 12341234 11223344 88888888 99999999 12121212 123qweasd qweasdzxc asdfghjkl zxcvbnm123
1234qwer qwer1234 letmein1 whatever liverpool manchester blink182 basketball password123 password12
password! admin123 administrator changeme default1 secret123 iloveyou1 iloveyou2 lovely12 babygirl
babygirl1 princess1 sunshine1 butterfly chocolate cookie123 pokemon1 naruto123 spiderman batman123
starwars1 q1w2e3r4 q1w2e3r4t5 q1w2e3r4t5y6 a1b2c3d4 aa123456 aa12345678 abcdefgh asdf1234 zxcv1234
147258369 159753456 741852963 987654321 963852741 1password passpass testtest test1234 1qazxsw2
qazwsxedc 1qaz2wsx3edc !qaz2wsx qwertyui asdfasdf zxczxczx 5201314520 woaini1314 31415926 3.1415926
11111111111 111111111 1111111111 222222222 123456789a 123456789q a123456789 q123456789 qwe123456
1234567a 1234567q 12345678a 12345678q 123456qwe 123456abc abc123456 qwerty12345 123abc123 1a2b3c4d
1234abcd 12344321 12345qwert qwert12345 qwertyu1 qazwsx123 qwe123qwe zaq1zaq1 zaq1xsw2 zaq1@wsx
!qaz@wsx 1qaz!qaz 1qaz@wsx qwer!234 q1w2e3r4t5y6u7 asdfghjk asdfghjkl1 zxcvbnm1 zxcvbnm, mnbvcxz1
poiuytrewq lkjhgfdsa 0987654321 9876543210 0123456789 01234567 24682468 13579135 123654789 147852369
159357456 753951456 789456123 456123789 12312312 123321123 112233445566 123456123456 121212121212
696969696969 iloveyou! iloveu123 iloveyou123 loveyou1 lovelove ilovegod jesus123 jesuschrist
blessed1 godisgood trinity1 angel123 angelina angels12 sweetheart sweety123 honey123 beautiful
babyboy1 princesa tequiero teamo123 tiamo123 jetaime1 ichliebedich motdepasse contrasena senha123
passwort passwort1 hallo123 schalke04 bvb09bvb azerty123 azertyuiop soleil123 doudou123 marseille
internet computer1 samsung1 samsung123 iphone123 google123 facebook1 youtube1 twitter1 linkedin1
microsoft windows1 linux123 ubuntu123 oracle123 mysql123 postgres root1234 toor1234 admin1234
adminadmin administrator1 superuser supervisor sysadmin1 manager1 qwerty123! password1! letmein!
welcome123 welcome2 welcome! changeme1 changeme123 temp1234 temppass temporary guest123 user1234
login123 access14 master12 masterkey mustang1 ferrari1 porsche911 yankees1 cowboys1 steelers
eagles12 patriots lakers24 chicago1 newyork1 london12 dallas12 boston12 florida1 california
hello123 hellohello helloworld hello1234 goodluck goodbye1 freedom1 nirvana1 metallica slipknot
rockandroll ironmaiden pinkfloyd beatles1 thebeatles eminem12 tupac123 50cent50 linkinpark
harrypotter hogwarts gandalf1 frodo123 matrix12 neo12345 startrek stargate1 terminator
skywalker darthvader1 yoda1234 minecraft minecraft1 fortnite1 roblox123 callofduty counterstrike
warcraft1 worldofwarcraft diablo123 zelda123 mario123 sonic123 pikachu1 charizard playstation
playstation2 xbox360x nintendo1 gameover1 pokemon123 dragonball digimon1 yugioh123 naruto12
sasuke12 onepiece1 hellokitty kitty123 doggy123 puppy123 kitten12 bubbles1 cupcake1 snoopy12
tigger12 winnie123 mickey12 minnie123 simpsons homer123 bart1234 spongebob squarepants scooby12
cartman1 southpark familyguy futurama1 superman1 batman12 spider12 ironman1 hulk1234 captainamerica
wolverine deadpool1 thor1234 avengers1 justice1 blackcat1 whitecat blackdog1 reddragon bluesky1
greenday1 redsox12 bluemoon1 purple12 orange12 yellow12 silver12 golden12 diamond1 crystal1
emerald1 sapphire1 rainbow1 sunflower strawberry blueberry raspberry pineapple watermelon
chocolate1 icecream1 cheese123 pizza123 burger12 hotdog12 coffee12 banana12 apple123 cherry12
peaches1 mango123 coconut1 lemon123 sugar123 candy123 cookie12 biscuit1 muffin12 pumpkin1
`)

// words are the common words and names the lists repeat with endings.
var words = strings.Fields(`
password passwort pass admin root user login welcome letmein master secret qwerty asdf zxcv
iloveyou love lover lovely monkey dragon shadow sunshine princess football baseball soccer hockey
basketball tennis golf michael jordan charlie thomas robert daniel andrew joshua matthew anthony
william james david richard joseph george jessica ashley jennifer amanda sarah nicole michelle
elizabeth hannah samantha melissa stephanie maria anna alexander alex buster tigger pepper ginger
maggie bailey molly lucky smokey rocky max jack harley buddy cooper bear tiger lion eagle falcon
hunter killer ranger rangers soldier sniper ninja samurai warrior viking pirate knight wizard
dragonfly butterfly flower summer winter spring autumn monday friday sunday january december
christmas halloween holiday vacation freedom liberty america usa england london paris berlin
germany france spain italia mexico brazil canada australia india china japan russia poland
chelsea arsenal liverpool barcelona madrid realmadrid juventus milan bayern united city
yankees lakers cowboys steelers packers patriots raiders warriors bulls celtics dodgers
ferrari porsche mustang corvette camaro mercedes bmw audi toyota honda nissan harley yamaha
computer internet google apple samsung iphone android windows linux office company business
money dollar bitcoin crypto gold silver diamond success winner champion legend hero superstar
superman batman spiderman ironman starwars pokemon naruto minecraft fortnite matrix
jesus christ angel heaven blessed faith grace hope peace happy smile family friends forever
music guitar piano rock metal punk rapper dance party beach ocean river mountain forest sky
star moon sun planet earth fire water thunder storm shadow ghost devil demon zombie vampire
orange banana apple cherry cookie candy sugar honey chocolate coffee pizza cheese chicken
purple yellow black white green blue red pink silver
baby babygirl babyboy daddy mommy mother father sister brother family
hello goodbye whatever nothing something anything everything
test testing demo sample default changeme temp guest access system server database network
qwertyuiop asdfghjkl zxcvbnm abcdef abcdefg abc
`)

// endings are what people append, most often first.
var endings = strings.Fields(`
1 12 123 1234 12345 123456 ! 1! 12! 123! 01 02 07 10 11 13 21 22 23 69 77 88 99 00 007 111 321 666 777 2k
1990 1991 1992 1993 1994 1995 1996 1997 1998 1999 2000 2001 2002 2003 2004 2005 2006 2007 2008 2009
2010 2011 2012 2013 2014 2015 2016 2017 2018 2019 2020 2021 2022 2023 2024 2025 2026
2020! 2021! 2022! 2023! 2024! 2025! 2026! @123 #1 @1 $ . *
`)

func main() {
	set := map[string]bool{}
	add := func(s string) {
		s = strings.ToLower(s)
		if len([]rune(s)) >= 8 {
			set[s] = true
		}
	}
	for _, s := range head {
		add(s)
	}
	for _, w := range words {
		add(w)
		add(w + w)
		for _, e := range endings {
			add(w + e)
		}
		add("my" + w)
		add("i" + w)
		add("ilove" + w)
		add(w + "pass")
		add(w + "password")
	}
	// Repeated digits and letters, counting runs and keyboard walks.
	for d := '0'; d <= '9'; d++ {
		for n := 8; n <= 16; n++ {
			add(strings.Repeat(string(d), n))
		}
	}
	for _, c := range "abcdefghijklmnopqrstuvwxyz" {
		add(strings.Repeat(string(c), 8))
	}
	digits := "12345678901234567890"
	for n := 8; n <= 20; n++ {
		add(digits[:n])
		add(reverse(digits[:n]))
	}
	for _, walk := range []string{"qwertyuiop", "asdfghjkl", "zxcvbnm", "1qaz2wsx3edc4rfv5tgb", "qazwsxedcrfvtgb", "1q2w3e4r5t6y7u8i9o0p",
		"q1w2e3r4t5y6u7i8o9p0", "qweasdzxc", "azertyuiop", "qwertzuiop", "abcdefghijklmnopqrstuvwxyz"} {
		for n := 8; n <= len(walk); n++ {
			add(walk[:n])
			for _, e := range []string{"1", "12", "123", "1234", "!", "123!"} {
				add(walk[:n] + e)
			}
		}
	}
	for y := 1950; y <= 2026; y++ {
		add(fmt.Sprintf("%d%d", y, y))
		add(fmt.Sprintf("password%d", y))
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	if err := os.WriteFile("common.txt", []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(len(out), "passwords")
}

func reverse(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}
