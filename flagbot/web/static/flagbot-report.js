/**
 * flagbot: "Report privately" beside each signed comment on talk pages, and on diff pages.
 *
 * Served by flagbot at /gadget.js with its own address filled in. A wiki installs it as a
 * gadget (MediaWiki:Gadget-flagbot-report.js, defined in MediaWiki:Gadgets-definition as
 *   * flagbot-report[ResourceLoader|default|dependencies=mediawiki.util,mediawiki.Title]|flagbot-report.js
 * ), a user as a user script. It reads nothing from the page but what it links to, and sends
 * nothing anywhere. Comments are found by DiscussionTools' markers where the wiki has it, by
 * their signatures otherwise. The link opens flagbot's report form with the wiki, the comment's revision
 * (or the diff) and the comment's author filled in; the reporter still chooses and sends.
 */
( function () {
	'use strict';
	var FLAGBOT = '__FLAGBOT_URL__';
	var LABEL = '__LABEL__';
	// the time of a signature ("01:02, 3 May 2020 (UTC)", "1. Mai 2020, 01:02 (CEST)"): hh:mm
	var TIME = /\b\d{1,2}:\d{2}\b/;
	var config = mw.config.get( [
		'wgNamespaceNumber', 'wgDBname', 'wgServer', 'wgScriptPath', 'wgCurRevisionId',
		'wgDiffNewId', 'wgDiffOldId'
	] );
	var base = config.wgServer + config.wgScriptPath + '/index.php';

	function reportLink( where, author ) {
		var params = new URLSearchParams();
		params.append( 'wiki', config.wgDBname );
		params.append( 'target', where );
		if ( author ) {
			params.append( 'target', 'User:' + author );
		}
		var link = document.createElement( 'a' );
		link.href = FLAGBOT + '/report?' + params.toString();
		link.className = 'flagbot-report';
		link.textContent = LABEL;
		link.rel = 'noopener';
		if ( author ) {
			link.setAttribute( 'aria-label', LABEL + ': ' + author );
		}
		return link;
	}

	/** The account a link points to (its user page, talk page or contributions), or null. */
	function accountOf( anchor ) {
		var href = anchor.getAttribute( 'href' ) || '';
		var name = mw.util.getParamValue( 'title', href );
		if ( !name ) {
			var path = href.split( '?' )[ 0 ].split( '/' ).pop();
			name = path ? decodeURIComponent( path ) : '';
		}
		var title = name && mw.Title.newFromText( name );
		if ( !title ) {
			return null;
		}
		var ns = title.getNamespaceId();
		var main = title.getMainText();
		if ( ns === 2 || ns === 3 ) {
			return main.split( '/' )[ 0 ];
		}
		if ( ns === -1 ) { // an IP signs with Special:Contributions/1.2.3.4
			var parts = main.split( '/' );
			return parts.length === 2 && mw.util.isIPAddress( parts[ 1 ] ) ? parts[ 1 ] : null;
		}
		return null;
	}

	/** DiscussionTools marks each comment with a start and an end marker whose id names its
	 * author and time ("c-Bob-20261205120000-…"): the link goes after the end marker. Returns
	 * whether the page has such markers. */
	function markDiscussionTools( content, revision ) {
		var ends = content.querySelectorAll( '[data-mw-comment-end^="c-"]' );
		ends.forEach( function ( end ) {
			var next = end.nextSibling;
			if ( next && next.classList && next.classList.contains( 'flagbot-report' ) ) {
				return;
			}
			var found = /^c-(.+?)-(\d{14})(?:-|$)/.exec( end.getAttribute( 'data-mw-comment-end' ) );
			if ( found ) {
				var link = reportLink( revision, found[ 1 ].replace( /_/g, ' ' ) );
				end.parentNode.insertBefore( link, end.nextSibling );
				end.parentNode.insertBefore( document.createTextNode( ' ' ), link );
			}
		} );
		return ends.length > 0;
	}

	/** Signed comments: a paragraph or list item whose own text has a time and whose own
	 * links name an account (the last one signed it); replies nested inside are their own. */
	function markSignatures( content, revision ) {
		content.querySelectorAll( 'p, dd, li' ).forEach( function ( block ) {
			if ( block.querySelector( ':scope > .flagbot-report' ) ) {
				return; // marked already (the hook runs again after a live update)
			}
			var own = block.cloneNode( true );
			own.querySelectorAll( 'dl, ul, ol, .flagbot-report' ).forEach( function ( nested ) {
				nested.remove();
			} );
			if ( !TIME.test( own.textContent ) ) {
				return;
			}
			var authors = Array.prototype.map.call( own.querySelectorAll( 'a' ), accountOf )
				.filter( Boolean );
			if ( !authors.length ) {
				return;
			}
			var link = reportLink( revision, authors[ authors.length - 1 ] );
			var nested = block.querySelector( ':scope > dl, :scope > ul, :scope > ol' );
			block.insertBefore( document.createTextNode( ' ' ), nested );
			block.insertBefore( link, nested );
		} );
	}

	if ( config.wgDiffNewId ) {
		var diff = base + '?diff=' + config.wgDiffNewId +
			( config.wgDiffOldId ? '&oldid=' + config.wgDiffOldId : '' );
		var userLink = document.querySelector( '#mw-diff-ntitle2 .mw-userlink' );
		var header = document.getElementById( 'mw-diff-ntitle1' );
		if ( header ) {
			header.appendChild( document.createTextNode( ' ' ) );
			header.appendChild( reportLink( diff, userLink ? userLink.textContent : '' ) );
		}
	} else if ( config.wgNamespaceNumber % 2 === 1 ) {
		mw.hook( 'wikipage.content' ).add( function ( $content ) {
			var revision = base + '?oldid=' + config.wgCurRevisionId;
			if ( !markDiscussionTools( $content[ 0 ], revision ) ) {
				markSignatures( $content[ 0 ], revision );
			}
		} );
	}
}() );
